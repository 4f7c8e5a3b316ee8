"""Read a W&B offline ``run-*.wandb`` file: LevelDB-log framing around wandb's own protobuf
``Record`` messages (wandb 0.31 ships no Python reader; the records are wandb's own types)."""

import struct

BLOCK = 32768
HEADER = 7  # b":W&B" + magic uint16 + version uint8


def records(path):
    from wandb.proto.wandb_internal_pb2 import Record

    data = open(path, "rb").read()
    assert data[:4] == b":W&B", "not a W&B transaction log"
    pos, buf = HEADER, b""
    while pos + 7 <= len(data):
        left = BLOCK - pos % BLOCK
        if left < 7:
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        chunk = data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind == 0 and length == 0:
            continue
        buf = chunk if kind in (1, 2) else buf + chunk
        if kind in (1, 4):
            rec = Record()
            rec.ParseFromString(buf)
            yield rec
            buf = b""
