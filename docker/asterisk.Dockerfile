# syntax=docker/dockerfile:1
# Asterisk for docker-compose.yml, started exactly as on a host: `contact asterisk up` with the
# native launcher renders the repository's asterisk-config/ (copied from the build context, the
# same files) with the generated secrets into the run directory and starts Asterisk.
# Build from the repository root: docker build -f docker/asterisk.Dockerfile .
#
# Debian sid: Debian 12 packages no Asterisk. The Asterisk packages are those of
# scripts/asterisk-rootfs.sh (PACKAGES); espeak-ng and sox speak contact's prompts, and the
# script also wants sipp (sip-tester) before it gets to them.
FROM debian:sid-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      asterisk asterisk-modules asterisk-core-sounds-en asterisk-moh-opsound-wav \
      espeak-ng sox sip-tester \
      python3 python3-venv ca-certificates util-linux \
 && rm -rf /var/lib/apt/lists/*

# the same uid as the contact image's user (their shared run directory: secrets.json is 0600)
ARG CONTACT_UID=10001
RUN groupadd --system --gid "$CONTACT_UID" contact \
 && useradd --system --uid "$CONTACT_UID" --gid contact --home-dir /var/lib/contact \
      --no-create-home --shell /usr/sbin/nologin contact

# the contact package (its `contact asterisk` commands), in a venv: sid's Python is managed by apt
ENV VIRTUAL_ENV=/opt/contact \
    PATH=/opt/contact/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY contact/ contact/
# in place (-e): the runner finds asterisk-config/ and scripts/ next to its package
RUN python3 -m venv /opt/contact && pip install -c constraints.txt -e .
COPY scripts/asterisk-rootfs.sh scripts/
COPY asterisk-config/ asterisk-config/
COPY --chmod=0755 docker/asterisk-entrypoint.sh /usr/local/bin/asterisk-entrypoint

ENV HOME=/var/lib/contact \
    CONTACT_ASTERISK_LAUNCHER=native \
    CONTACT_ASTERISK_CACHE_DIR=/var/cache/contact \
    CONTACT_ASTERISK_RUN_DIR=/var/lib/contact/asterisk
RUN install -d -o contact -g contact /var/cache/contact /var/lib/contact \
      /var/lib/contact/asterisk
USER contact
# The prompts, spoken once here into the cache directory; `contact asterisk up` runs the same
# script at every start and finds them done (its stamp files match).
RUN bash scripts/asterisk-rootfs.sh
WORKDIR /var/lib/contact
ENTRYPOINT ["/usr/local/bin/asterisk-entrypoint"]
