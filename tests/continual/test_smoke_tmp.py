def test_smoke(continued):
    from tunewise.continual import forgetting
    for s, p in continued.items():
        f = forgetting(p, n_boot=50)
        print(s, f["matrix"], f["matrix_task_given"], f.get("router"))
