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

# Dependencies first, read from pyproject.toml, so editing the code does not reinstall them.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt

# Then the project itself (see .dockerignore for what stays out).
COPY . .
RUN pip install --no-deps . \
 && rm -rf build ./*.egg-info \
 && mkdir -p /app/.backroom \
 && chown backroom:backroom /app /app/.backroom

USER backroom

CMD ["backroom", "--help"]
