#!/usr/bin/env bash
# Checks the Markdown documentation: every relative link resolves to a file (and, with #anchor,
# to a heading of that file, slugged as GitHub does), and no file repeats a heading.
# Usage: bash docs/check-links.sh [FILE.md...]   (default: README.md, docs/, the folder READMEs)
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2

files=("$@")
[ ${#files[@]} -gt 0 ] || files=(README.md docs/*.md bench/README.md schemas/README.md
    fuzz/README.md tests/e2e/README.md)

# Headings of a Markdown file, outside fenced code blocks, without the leading #s.
headings() {
    awk '/^```/ { fence = !fence; next } !fence && /^#+ / { sub(/^#+ +/, ""); print }' "$1"
}

# GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens.
slug() {
    tr '[:upper:]' '[:lower:]' | sed -e 's/[^a-z0-9 _-]//g' -e 's/ /-/g'
}

fail=0
for f in "${files[@]}"; do
    dups=$(headings "$f" | sort | uniq -d)
    if [ -n "$dups" ]; then
        echo "$f: duplicate heading: $dups"
        fail=1
    fi
    # [text](target) outside code fences; external links are not checked
    links=$(awk '/^```/ { fence = !fence; next } !fence' "$f" |
        grep -o '\]([^)]*)' | sed -e 's/^](//' -e 's/)$//' | grep -v -E '^(https?|mailto):')
    for link in $links; do
        path=${link%%#*}
        anchor=
        [[ $link == *#* ]] && anchor=${link#*#}
        target=$f
        [ -n "$path" ] && target=$(dirname "$f")/$path
        if [ ! -e "$target" ]; then
            echo "$f: broken link $link (no $target)"
            fail=1
            continue
        fi
        if [ -n "$anchor" ] && ! headings "$target" | slug | grep -qx -- "$anchor"; then
            echo "$f: broken link $link (no heading #$anchor in $target)"
            fail=1
        fi
    done
done
[ $fail -eq 0 ] && echo "docs: links and headings OK (${#files[@]} files)"
exit $fail
