#!/usr/bin/env bash
# Install what Anju needs into .venv and copy the front-end libraries from npm into the static folder.
# Usage: scripts/setup.sh [--test]   (--test also installs the test tools)
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
extras=""
[ "${1:-}" = "--test" ] && extras="[test]"

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
if ! .venv/bin/python -m uv --version >/dev/null 2>&1; then
  .venv/bin/python -m pip --version >/dev/null 2>&1 || .venv/bin/python -m ensurepip --upgrade >/dev/null
  .venv/bin/python -m pip install --quiet --disable-pip-version-check uv
fi
.venv/bin/python -m uv pip install --quiet --python .venv/bin/python -e ".${extras}"

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
vendor=src/anju/static/vendor
mkdir -p "$vendor"
cp node_modules/htmx.org/dist/htmx.min.js "$vendor/htmx.min.js"
# The CSP build of Alpine: the standard build evaluates expressions with new Function(), which
# the Content-Security-Policy (script-src 'self', no unsafe-eval) refuses.
cp node_modules/@alpinejs/csp/dist/cdn.min.js "$vendor/alpine-csp.min.js"
rm -f "$vendor/alpine.min.js"
cp node_modules/echarts/dist/echarts.min.js "$vendor/echarts.min.js"
cp node_modules/leaflet/dist/leaflet.js "$vendor/leaflet.js"
cp node_modules/leaflet/dist/leaflet.css "$vendor/leaflet.css"
mkdir -p "$vendor/images" && cp node_modules/leaflet/dist/images/* "$vendor/images/"
cp node_modules/swagger-ui-dist/swagger-ui-bundle.js "$vendor/swagger-ui-bundle.js"
cp node_modules/swagger-ui-dist/swagger-ui.css "$vendor/swagger-ui.css"
# The CJK font of the PDFs (Noto Sans SC, SIL Open Font License) comes with the setup step, so that a
# fresh machine without fonts-noto-cjk still renders Chinese; typst finds it in src/anju/fonts.
fonts=src/anju/fonts
mkdir -p "$fonts"
for weight in 400Regular 700Bold; do
  cp node_modules/@expo-google-fonts/noto-sans-sc/$weight/NotoSansSC_$weight.ttf "$fonts/"
done
cp node_modules/@expo-google-fonts/noto-sans-sc/LICENSE_FONT "$fonts/OFL.txt"
