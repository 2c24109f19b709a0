#!/bin/sh
# campus-tls select|watch — serve HTTPS once a certificate exists, reload nginx on renewal.
#
#   select  link https.conf into enabled/ when the certificate and key exist (else unlink:
#           nginx then answers only on port 80, where certbot's challenges are served)
#   watch   every CAMPUS_RENEWAL_CHECK_SECONDS, if certbot's deploy hook touched the
#           marker file, select again and reload nginx (new certificate, no downtime)
set -eu

conf_dir="${NGINX_CAMPUS_DIR:-/etc/nginx/campus}"
marker="${CAMPUS_RENEWAL_MARKER:-/etc/letsencrypt/.campus-renewed}"
interval="${CAMPUS_RENEWAL_CHECK_SECONDS:-60}"
reload="${NGINX_RELOAD_COMMAND:-nginx -s reload}"
cert="${CAMPUS_TLS_CERT:?CAMPUS_TLS_CERT is not set}"
key="${CAMPUS_TLS_KEY:?CAMPUS_TLS_KEY is not set}"

log() { echo "campus-tls: $*" >&2; }

select_tls() {
    mkdir -p "$conf_dir/enabled"
    if [ -s "$cert" ] && [ -s "$key" ]; then
        ln -sf ../https.conf "$conf_dir/enabled/https.conf"
        log "certificate $cert found: HTTPS enabled"
    else
        rm -f "$conf_dir/enabled/https.conf"
        log "no certificate at $cert yet: HTTP only (ACME challenges) until certbot issues one"
    fi
}

stamp() {
    if [ -e "$marker" ]; then stat -c %Y "$marker"; else echo none; fi
}

watch_renewals() {
    last=$(stamp)
    while sleep "$interval"; do
        now=$(stamp)
        if [ "$now" != "$last" ]; then
            last=$now
            log "renewal marker changed: reloading nginx"
            select_tls
            # shellcheck disable=SC2086  # the command is meant to be split into words
            $reload || log "reload failed; nginx keeps its current configuration"
        fi
    done
}

case "${1:-}" in
    select) select_tls ;;
    watch) watch_renewals ;;
    *) echo "usage: campus-tls select|watch" >&2; exit 2 ;;
esac
