# syntax=docker/dockerfile:1
# contact: `contact serve` (and `contact db upgrade`, `contact operators add`, …) for
# docker-compose.yml. Build from the repository root: docker build -f docker/contact.Dockerfile .

# The browser libraries (JsSIP, Leaflet) from web/package-lock.json, bundled into web/static/dist,
# as `make setup` does.
FROM node:22-bookworm-slim AS web
WORKDIR /build/web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/ ./
RUN npm run build

FROM python:3.11-slim-bookworm
# the same uid as the asterisk image's user: contact reads the secrets.json (0600) and the
# recordings that `contact asterisk up` and Asterisk write into their shared run directory
ARG CONTACT_UID=10001
RUN groupadd --system --gid "$CONTACT_UID" contact \
 && useradd --system --uid "$CONTACT_UID" --gid contact --home-dir /var/lib/contact \
      --no-create-home --shell /usr/sbin/nologin contact
ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY contact/ contact/
# Installed in place (-e), as `make setup` does: contact finds web/ and asterisk-config/ next to
# its package (contact/http/pages.py, contact/telephony/runner.py), not in site-packages.
RUN pip install -c constraints.txt -e .
# pjsip.conf names the softphones' auth sections (GET /api/v1/me/softphone)
COPY asterisk-config/ asterisk-config/
COPY web/ web/
COPY --from=web /build/web/static/dist/ web/static/dist/
RUN install -d -o contact -g contact /var/lib/contact /var/lib/contact/data \
      /var/lib/contact/asterisk
# 0.0.0.0 for `docker run -p`; docker-compose.yml (host network) keeps it on 127.0.0.1
ENV CONTACT_HTTP_HOST=0.0.0.0 \
    CONTACT_HTTP_PORT=8080 \
    CONTACT_DATA_DIR=/var/lib/contact/data \
    CONTACT_ASTERISK_RUN_DIR=/var/lib/contact/asterisk
USER contact
WORKDIR /var/lib/contact
EXPOSE 8080
CMD ["contact", "serve"]
