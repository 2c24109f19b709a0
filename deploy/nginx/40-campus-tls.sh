#!/bin/sh
# nginx image entrypoint hook (runs after the templates are rendered, before nginx starts):
# enable HTTPS if the certificate exists, and reload nginx whenever certbot renews it.
set -eu
campus-tls select
campus-tls watch &
