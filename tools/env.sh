# Sourced by tools/demo and tools/test: makes Homebrew's keg-only OpenBLAS visible to pkg-config on macOS.
if command -v brew >/dev/null 2>&1; then
  for f in openblas; do
    p="$(brew --prefix "$f" 2>/dev/null || true)"
    [ -n "$p" ] && export PKG_CONFIG_PATH="$p/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
  done
fi
