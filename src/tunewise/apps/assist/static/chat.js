// The chat page: posts each message to /v1/assist with this tab's session id and shows the
// reply, what it was based on (intent, FAQ match) and a handoff to a person.
(function () {
  "use strict";
  var sid = sessionStorage.getItem("assist-session");
  if (!sid) {
    sid = "web-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 10);
    sessionStorage.setItem("assist-session", sid);
  }
  var log = document.getElementById("log");
  var form = document.getElementById("ask");
  var input = document.getElementById("message");
  var errorBox = document.getElementById("error");

  function add(cls, text) {
    var div = document.createElement("div");
    div.className = "msg " + cls;
    var p = document.createElement("p");
    p.className = "text";
    p.textContent = text;
    div.appendChild(p);
    log.appendChild(div);
    log.scrollTop = log.scrollHeight;
    return div;
  }

  function meta(div, d) {
    var m = document.createElement("p");
    m.className = "meta";
    var bits = [];
    if (d.intent) {
      bits.push("intent " + d.intent + " (" + d.confidence.toFixed(2) + (d.intent_abstained ? ", abstained" : "") + ")");
    }
    if (d.faq) bits.push("FAQ " + d.faq.id + " (" + d.faq.score.toFixed(2) + ")");
    bits.push(d.decision);
    m.textContent = bits.join(" \u00b7 ");
    div.appendChild(m);
    if (d.handoff) {
      var h = document.createElement("p");
      h.className = "handoff";
      h.textContent = "Handed off to a person: " + d.reason;
      div.appendChild(h);
    }
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var text = input.value.trim();
    if (!text) return;
    input.value = "";
    errorBox.hidden = true;
    add("user", text);
    var headers = { "Content-Type": "application/json" };
    var key = document.getElementById("key").value;
    if (key) headers["Authorization"] = "Bearer " + key;
    fetch("/v1/assist", {
      method: "POST",
      headers: headers,
      body: JSON.stringify({ session_id: sid, message: text })
    }).then(function (r) {
      return r.json().then(function (d) { return { ok: r.ok, status: r.status, d: d }; });
    }).then(function (res) {
      if (!res.ok) {
        if (res.status === 401) document.getElementById("key-row").hidden = false;
        errorBox.textContent = (res.d.error && res.d.error.message) || ("error " + res.status);
        errorBox.hidden = false;
        return;
      }
      var div = add("bot", res.d.reply);
      div.dataset.decision = res.d.decision;
      div.dataset.handoff = String(res.d.handoff);
      meta(div, res.d);
    }).catch(function (e) {
      errorBox.textContent = "could not reach the assistant: " + e;
      errorBox.hidden = false;
    });
  });
})();
