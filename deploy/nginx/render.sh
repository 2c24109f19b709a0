#!/bin/sh
# render.sh OUT — render the Campus nginx configuration into OUT as the nginx image does at
# start: every templates/*.template through envsubst, substituting only the CAMPUS_*
# variables that are set (nginx's own $variables stay), into OUT/campus/, plus
# OUT/conf.d/campus.conf. Fails if a ${CAMPUS_...} placeholder is left unset.
# Used by deploy/check.sh (nginx -t) and the tests; the image itself uses its entrypoint.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: render.sh OUT}
mkdir -p "$out/campus/enabled" "$out/campus/realip" "$out/conf.d"
vars=$(env | sed -n 's/^\(CAMPUS_[A-Za-z0-9_]*\)=.*/${\1}/p' | tr '\n' ' ')
for template in "$here"/templates/*.template; do
    target="$out/campus/$(basename "$template" .template)"
    envsubst "$vars" <"$template" >"$target"
done
cp "$here/conf.d/campus.conf" "$out/conf.d/campus.conf"
if grep -n '[$]{CAMPUS_[A-Z0-9_]*}' "$out"/campus/*.conf; then
    echo "render.sh: the placeholders above are not set" >&2
    exit 1
fi
