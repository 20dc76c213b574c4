#!/usr/bin/env bash
# Sign (hardened runtime) and notarise the macOS build, only when credentials are present.
#
#   sign_and_notarize.sh app "dist/Latent Studio.app"   sign every binary inside, then the .app
#   sign_and_notarize.sh dmg dist/latent-studio-0.1.0.dmg   sign, notarise and staple the .dmg
#
# Credentials come from the environment (the release workflow maps them from its secrets):
#   MACOS_SIGNING_IDENTITY   "Developer ID Application: Name (TEAMID)", in the login keychain
#   APPLE_ID, APPLE_TEAM_ID, APPLE_APP_PASSWORD   an app-specific password, for notarytool
# Without MACOS_SIGNING_IDENTITY it says so and exits 0: unsigned builds still work for testing
# (right-click > Open the first time). Without the notary credentials it signs but does not notarise.
set -euo pipefail

what="${1:?usage: sign_and_notarize.sh app|dmg PATH}"
target="${2:?usage: sign_and_notarize.sh app|dmg PATH}"
here="$(cd "$(dirname "$0")" && pwd)"
entitlements="$here/entitlements.plist"

if [ -z "${MACOS_SIGNING_IDENTITY:-}" ]; then
    echo "MACOS_SIGNING_IDENTITY is not set: $target stays unsigned"
    exit 0
fi

sign() {
    codesign --force --timestamp --options runtime --entitlements "$entitlements" \
        --sign "$MACOS_SIGNING_IDENTITY" "$@"
}

case "$what" in
app)
    # Inside out: every library and nested executable first, the .app last. `codesign --deep`
    # is not used: Apple deprecates it, and it skips data-looking folders that hold binaries.
    find "$target/Contents" -type f \( -name "*.dylib" -o -name "*.so" -o -perm -u+x \) -print0 |
        while IFS= read -r -d '' binary; do
            if file "$binary" | grep -q "Mach-O"; then
                sign "$binary"
            fi
        done
    find "$target/Contents" -type d -name "*.framework" -print0 | while IFS= read -r -d '' framework; do
        sign "$framework"
    done
    sign "$target"
    codesign --verify --strict --deep --verbose=2 "$target"
    ;;
dmg)
    codesign --force --timestamp --sign "$MACOS_SIGNING_IDENTITY" "$target"
    if [ -z "${APPLE_ID:-}" ] || [ -z "${APPLE_TEAM_ID:-}" ] || [ -z "${APPLE_APP_PASSWORD:-}" ]; then
        echo "APPLE_ID, APPLE_TEAM_ID or APPLE_APP_PASSWORD is not set: $target is signed, not notarised"
        exit 0
    fi
    xcrun notarytool submit "$target" --wait \
        --apple-id "$APPLE_ID" --team-id "$APPLE_TEAM_ID" --password "$APPLE_APP_PASSWORD"
    xcrun stapler staple "$target"
    spctl --assess --type open --context context:primary-signature --verbose=2 "$target"
    ;;
*)
    echo "usage: sign_and_notarize.sh app|dmg PATH" >&2
    exit 2
    ;;
esac
