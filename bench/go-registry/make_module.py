#!/usr/bin/env python3
"""Write a Go module zip of roughly SIZE bytes for the benchmark.

usage: make_module.py MODULE VERSION SIZE_BYTES OUT_DIR
Writes OUT_DIR/{source.zip,go.mod,info.json}. The payload is random bytes in a stored
(uncompressed) entry, so the zip is about SIZE_BYTES on the wire; go.mod at the root matches
the uploaded mod, no directory entries (the registry's upload rules).
"""
import json
import os
import sys
import zipfile

module, version, size, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
os.makedirs(out, exist_ok=True)
go_mod = f"module {module}\n\ngo 1.21\n".encode()
prefix = f"{module}@{version}/"
with zipfile.ZipFile(os.path.join(out, "source.zip"), "w") as z:
    z.writestr(prefix + "go.mod", go_mod, compress_type=zipfile.ZIP_DEFLATED)
    z.writestr(prefix + "bench.go", b"package bench\n", compress_type=zipfile.ZIP_DEFLATED)
    z.writestr(prefix + "testdata/payload.bin", os.urandom(max(size - 1024, 0)), compress_type=zipfile.ZIP_STORED)
with open(os.path.join(out, "go.mod"), "wb") as f:
    f.write(go_mod)
with open(os.path.join(out, "info.json"), "w") as f:
    json.dump({"Version": version, "Time": "2026-11-27T22:10:05Z"}, f)
