#!/bin/sh
# certbot --deploy-hook: runs after every successful issuance or renewal. It touches the
# marker that campus-tls (in the nginx container) watches; nginx then reloads with the new
# certificate. certbot sets RENEWED_LINEAGE to the renewed live/ directory.
set -eu
marker="${CAMPUS_RENEWAL_MARKER:-/etc/letsencrypt/.campus-renewed}"
touch "$marker"
echo "campus deploy hook: ${RENEWED_LINEAGE:-certificate} deployed; nginx reloads shortly" >&2
