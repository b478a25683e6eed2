"""The web console in headless Chromium: screenshots of its main pages and two measurements.

  python bench/console_bench.py [--shots docs/console] [--big-mib 1024] [--objects 10000]

1. Time to first render of a prefix holding N objects (navigation start -> the listing's table is in
   the page, as the page itself reports it), first page and a page deep in the prefix.
2. Upload throughput of one large file through the browser's upload control (multipart, 4 parts in
   flight) vs `aws s3 cp` to the same server.
Starts its own server (2 workers) in a temporary folder; loopback only; bounded in size and time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "integration"))
sys.path.insert(0, str(ROOT / "tests"))  # first: its conftest holds ServerProcess

from browser_support import CONSOLE, make_driver  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from conftest import ServerProcess  # noqa: E402
from ports import free_port  # noqa: E402


def until(d, fn, timeout=600.0):
    return WebDriverWait(d, timeout, poll_frequency=0.02).until(lambda d: fn(d))


def el(d, sel, timeout=60.0):
    return until(d, lambda d: (d.find_elements(By.CSS_SELECTOR, sel) or [None])[0], timeout)


def s3client(srv):
    import boto3
    return boto3.client("s3", endpoint_url=srv.endpoint, aws_access_key_id=srv.access_key,
                        aws_secret_access_key=srv.secret_key, region_name="us-east-1")


def shot(d, out: Path | None, name: str) -> None:
    if out is None:
        return
    time.sleep(0.3)
    d.execute_script("const t = document.getElementById('toast'); if (t) t.hidden = true;")  # a notice of a page before
    d.save_screenshot(str(out / f"{name}.png"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shots", type=Path, default=None)
    ap.add_argument("--big-mib", type=int, default=1024)
    ap.add_argument("--objects", type=int, default=10000)
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="coffer-console-bench-"))
    srv = ServerProcess(data=tmp / "data", port=free_port(), workers=2)
    srv.start()
    d = make_driver(tmp / "profile", 1100, 760)
    try:
        if a.shots:
            a.shots.mkdir(parents=True, exist_ok=True)
        s3 = s3client(srv)
        base = srv.endpoint + CONSOLE
        d.get(base)
        el(d, "#ak")
        shot(d, a.shots, "login")
        el(d, "#ak").send_keys(srv.access_key)
        el(d, "#sk").send_keys(srv.secret_key)
        el(d, "#login-button").click()
        el(d, "#buckets")
        s3.create_bucket(Bucket="photos")
        s3.put_bucket_versioning(Bucket="photos", VersioningConfiguration={"Status": "Enabled"})
        s3.create_bucket(Bucket="big")
        s3.create_bucket(Bucket="archive", ObjectLockEnabledForBucket=True)
        png = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000100000001008020000009091683600000017"
                            "49444154789c63fccfc0f09f8106c0c40a2a1bb0a0e1000f9f022ed1a7c3c40000000049454e44ae426082")
        s3.put_object(Bucket="photos", Key="2024/beach.png", Body=png, ContentType="image/png")
        s3.put_object(Bucket="photos", Key="2024/notes.json", Body=b'{"trip": "coast", "days": 5, "ok": true}',
                      ContentType="application/json")
        for i in range(3):
            s3.put_object(Bucket="photos", Key="2024/readme.txt", Body=f"draft {i}\n".encode(),
                          ContentType="text/plain")
        s3.put_object(Bucket="archive", Key="ledger.csv", Body=b"a,b\n1,2\n", ObjectLockLegalHoldStatus="ON")

        # 10k objects under one prefix
        keys = [f"many/obj-{i:06d}.dat" for i in range(a.objects)]
        t0 = time.monotonic()
        with ThreadPoolExecutor(16) as ex:
            list(ex.map(lambda k: s3.put_object(Bucket="big", Key=k, Body=b"x"), keys))
        print(f"filled {len(keys)} objects in {time.monotonic() - t0:.1f}s")
        d.get(base + "#/buckets")
        el(d, "#buckets")
        shot(d, a.shots, "buckets")
        times = []
        for _ in range(5):
            d.get("about:blank")
            d.get(base + "#/browse?bucket=big&prefix=many/")
            el(d, "#objects")
            until(d, lambda d: d.execute_script("return document.getElementById('main').dataset.view") == "/browse")
            times.append(int(d.execute_script("return document.getElementById('main').dataset.renderedAt")))
        deep = []
        for _ in range(5):
            d.get("about:blank")
            d.get(base + f"#/browse?bucket=big&prefix=many/&after=many/obj-{a.objects - 150:06d}.dat")
            until(d, lambda d: d.execute_script("return document.getElementById('main').dataset.view") == "/browse")
            deep.append(int(d.execute_script("return document.getElementById('main').dataset.renderedAt")))
        print(f"first render of a {a.objects}-object prefix (200 per page), navigation start -> table: "
              f"median {sorted(times)[2]} ms (runs {times}); a page deep in it: median {sorted(deep)[2]} ms")

        d.get(base + "#/browse?bucket=photos&prefix=2024/")
        el(d, "#objects")
        shot(d, a.shots, "browse")
        d.get(base + "#/object?bucket=photos&key=2024/notes.json")
        el(d, "pre.preview-text")
        el(d, "#share-button").click()
        until(d, lambda d: d.find_element(By.CSS_SELECTOR, "#share-url").get_attribute("value"))
        shot(d, a.shots, "object")
        d.get(base + "#/versions?bucket=photos&prefix=2024/readme.txt&exact=1")
        el(d, "#versions")
        shot(d, a.shots, "versions")
        d.get(base + "#/object?bucket=archive&key=ledger.csv")
        el(d, "#protection")
        shot(d, a.shots, "protection")
        d.get(base + "#/settings?bucket=photos")
        el(d, "#policy").send_keys('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", '
                                   '"Action": "s3:GetObject", "Resource": "arn:aws:s3:::elsewhere/*"}]}')
        el(d, "#policy-save").click()
        until(d, lambda d: d.find_element(By.CSS_SELECTOR, "#policy-error").text)
        d.execute_script("document.getElementById('policy').scrollIntoView()")
        shot(d, a.shots, "settings-policy-error")
        d.get(base + "#/settings?bucket=photos")
        el(d, "#lc-rules-add").click()
        el(d, "#lc-rules-items .lc-prefix").send_keys("2024/")
        el(d, "#lc-rules-items .lc-nc-days").send_keys("30")
        el(d, "#cors-add").click()
        el(d, "#cors-items .cors-origins").send_keys("https://photos.example")
        el(d, "#cors-items .cors-method[value=GET]").click()
        d.execute_script("document.getElementById('website-form').scrollIntoView()")
        shot(d, a.shots, "settings-forms")
        s3.put_object(Bucket="photos", Key="2024/scan.tif", Body=os.urandom(300_000), ChecksumAlgorithm="SHA256")
        d.get(base + "#/object?bucket=photos&key=2024/scan.tif")
        el(d, "#fragments")
        d.execute_script("document.getElementById('placement').scrollIntoView()")
        shot(d, a.shots, "object-placement")
        d.get(base + "#/admin")
        el(d, "#users")
        shot(d, a.shots, "users")
        d.get(base + "#/kms")
        el(d, "#kms-alias").send_keys("photos-root")
        el(d, "#kms-new-save").click()
        el(d, "#kms-keys button.kms-toggle")
        shot(d, a.shots, "kms")
        d.get(base + "#/tokens")
        el(d, "#token-new-save").click()
        el(d, "#token-once")
        shot(d, a.shots, "tokens")
        d.get(base + "#/health")
        el(d, "#chart-requests")
        for _ in range(80):
            s3.list_objects_v2(Bucket="photos")
            s3.get_object(Bucket="photos", Key="2024/beach.png")["Body"].read()
            time.sleep(0.1)
        shot(d, a.shots, "health")
        # a phone's viewport (375 px): emulated, a desktop window has a minimum width
        d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                          {"width": 375, "height": 760, "deviceScaleFactor": 1, "mobile": True})
        d.get(base + "#/browse?bucket=photos&prefix=2024/")
        el(d, "#objects")
        shot(d, a.shots, "narrow")
        d.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})

        if a.big_mib:
            big = tmp / "big.bin"
            with open(big, "wb") as f:
                for _ in range(a.big_mib):
                    f.write(os.urandom(1 << 20))
            size = big.stat().st_size
            d.get(base + "#/browse?bucket=big&prefix=up/")
            el(d, "#file-input")
            t0 = time.monotonic()
            el(d, "#file-input").send_keys(str(big))
            until(d, lambda d: d.find_elements(By.CSS_SELECTOR, "#uploads li.done, #uploads li.failed"), 1200)
            browser_s = time.monotonic() - t0
            assert d.find_elements(By.CSS_SELECTOR, "#uploads li.done"), "browser upload failed"
            env = {**os.environ, "AWS_ACCESS_KEY_ID": srv.access_key, "AWS_SECRET_ACCESS_KEY": srv.secret_key,
                   "AWS_DEFAULT_REGION": "us-east-1"}
            aws = shutil.which("aws") or str(Path(sys.executable).parent / "aws")
            t0 = time.monotonic()
            subprocess.run([aws, "--endpoint-url", srv.endpoint, "s3", "cp", str(big), "s3://big/cli/big.bin",
                            "--only-show-errors"], check=True, env=env)
            cli_s = time.monotonic() - t0
            mib = size / (1 << 20)
            print(f"upload of {mib:.0f} MiB: browser {browser_s:.1f}s = {mib / browser_s:.0f} MiB/s; aws CLI "
                  f"{cli_s:.1f}s = {mib / cli_s:.0f} MiB/s; browser/CLI = {cli_s / browser_s * 100:.0f}%")
    finally:
        d.quit()
        srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
