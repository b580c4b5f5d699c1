# syntax=docker/dockerfile:1
# Backroom's one image: workers, beat, Flower and the `backroom` command line.
#   docker build -t backroom:latest .      (or: docker compose build)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    BACKROOM_DATA_DIR=/app/.backroom

RUN groupadd --system --gid 10001 backroom \
 && useradd --system --uid 10001 --gid backroom --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin backroom

WORKDIR /app

# Dependencies first, so editing the code does not reinstall them: the runtime part of
# requirements.lock (the versions the tests ran on, hashes checked), without the test and dev
# tools the lock also pins. pip resolves the project's dependencies and build requirements
# against the lock's versions without installing anything; the packages it picks are installed
# from the lock, and one the lock lacks stops the build.
COPY pyproject.toml requirements.lock ./
RUN python - <<'PY'
import json, re, subprocess, tempfile, tomllib
from pathlib import Path

def key(name):
    return re.sub(r"[-_.]+", "-", name).lower()

lines = re.sub(r"\\\n", " ", Path("requirements.lock").read_text()).splitlines()
pins = {key(line.split("==")[0]): line for line in (l.split("#")[0].strip() for l in lines) if line}
pyproject = tomllib.loads(Path("pyproject.toml").read_text())
wanted = pyproject["project"]["dependencies"] + pyproject["build-system"]["requires"]
with tempfile.TemporaryDirectory() as tmp:
    versions, report = Path(tmp, "versions.txt"), Path(tmp, "report.json")
    runtime = Path(tmp, "runtime.lock")
    versions.write_text("".join(line.split()[0] + "\n" for line in pins.values()))
    subprocess.run(["pip", "install", "--quiet", "--dry-run", "--ignore-installed",
                    "--report", report, "-c", versions, *wanted], check=True)
    picked = {key(item["metadata"]["name"]) for item in json.loads(report.read_text())["install"]}
    if picked - pins.keys():
        raise SystemExit(f"not in requirements.lock: {sorted(picked - pins.keys())}")
    runtime.write_text("".join(pins[name] + "\n" for name in sorted(picked)))
    subprocess.run(["pip", "install", "--require-hashes", "--no-deps", "-r", runtime], check=True)
PY

# Then the project itself (see .dockerignore for what stays out), built with the lock's
# setuptools.
COPY . .
RUN pip install --no-deps --no-build-isolation . \
 && rm -rf build ./*.egg-info \
 && mkdir -p /app/.backroom \
 && chown backroom:backroom /app /app/.backroom

USER backroom

CMD ["backroom", "--help"]
