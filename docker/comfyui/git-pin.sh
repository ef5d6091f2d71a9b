#!/bin/sh
# git-pin URL COMMIT DEST: put the tree of exactly COMMIT (a full 40-hex sha) of URL at DEST.
# A branch, tag or short sha is refused: names move, and a build must be reproducible.
# Fetches only that commit (GitHub serves any commit by sha), checks what arrived, and drops .git.
set -eu

if [ "$#" -ne 3 ]; then
  echo "usage: git-pin URL COMMIT DEST" >&2
  exit 2
fi
url=$1
commit=$2
dest=$3

case $commit in
  *[!0-9a-f]*|'') ok=no ;;
  *) if [ "${#commit}" -eq 40 ]; then ok=yes; else ok=no; fi ;;
esac
if [ "$ok" != yes ]; then
  echo "git-pin: '$commit' for $url is not a full 40-hex commit sha; pin a commit, not a branch or tag" >&2
  exit 2
fi

git init --quiet "$dest"
git -C "$dest" fetch --quiet --depth 1 "$url" "$commit"
git -C "$dest" -c advice.detachedHead=false checkout --quiet FETCH_HEAD
actual=$(git -C "$dest" rev-parse HEAD)
if [ "$actual" != "$commit" ]; then
  echo "git-pin: $url gave $actual, expected $commit" >&2
  exit 1
fi
rm -rf "$dest/.git"
echo "git-pin: $url @ $commit -> $dest"
