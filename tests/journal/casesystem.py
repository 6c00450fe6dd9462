#!/usr/bin/env python3
"""A case system's file integration, for modtag's tests (issue 31): watches the drop
directory, decrypts each journal package with the case system's key (Debian's gpg),
checks every file against the SHA-256 its metadata.json names, "files" it, and writes
a receipt into the receipts directory as the integration would (whole, by rename).

    casesystem.py OUTBOX RECEIPTS GNUPGHOME FILED [--forge]

Prints one line per package: `filed REFERENCE as DOCUMENT` or `refused NAME: why`.
Stops when its standard input closes (the test ends)."""

import hashlib
import io
import json
import os
import subprocess
import sys
import threading
import time
import zipfile

outbox, receipts, home, filed = sys.argv[1:5]
done = threading.Event()


def stop_on_eof():
    sys.stdin.read()
    done.set()


threading.Thread(target=stop_on_eof, daemon=True).start()
count = 4711
while not done.is_set():
    for name in sorted(os.listdir(outbox)):
        if name.startswith(".") or not name.endswith(".zip.pgp"):
            continue
        path = os.path.join(outbox, name)
        out = subprocess.run(
            ["gpg", "--homedir", home, "--batch", "--quiet", "--decrypt", path],
            capture_output=True,
        )
        os.rename(path, os.path.join(filed, name))
        if out.returncode != 0:
            print(f"refused {name}: gpg: {out.stderr.decode(errors='replace')}", flush=True)
            continue
        package = zipfile.ZipFile(io.BytesIO(out.stdout))
        names = package.namelist()
        reference = names[0].split("/")[0]
        meta = json.loads(package.read(f"{reference}/metadata.json"))
        bad = [
            f["name"]
            for f in meta["files"]
            if hashlib.sha256(package.read(f"{reference}/{f['name']}")).hexdigest() != f["sha256"]
        ]
        if bad or meta["reference"] != reference:
            print(f"refused {name}: hashes differ for {bad}", flush=True)
            continue
        package.extractall(filed)
        count += 1
        document = f"2026-{count:06d}"
        receipt = {"reference": reference, "package_id": meta["package_id"], "document_id": document}
        tmp = os.path.join(receipts, f".{meta['package_id']}.tmp")
        with open(tmp, "w") as f:
            json.dump(receipt, f)
        os.rename(tmp, os.path.join(receipts, f"{meta['package_id']}.json"))
        print(f"filed {reference} as {document}", flush=True)
    time.sleep(0.1)
