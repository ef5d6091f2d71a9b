"""Sources carried to a GPU machine that has no internet, packed here and checked there (stdlib only).

ComfyUI, KJNodes and VideoHelperSuite travel as one .tar.gz each, packed from a git directory at the
commit pinned in docker/comfyui/Dockerfile. What makes the check strong is that it needs no git and
no trust in the packer:
  - the manifest carries the raw commit object; its git id (sha1 of "commit <len>\\0" + body) must
    equal the pinned commit, and its body names the tree;
  - the tree id is recomputed from the tarball's files (git's blob and tree hashing, done here in
    Python), and must equal that tree. So every carried byte, mode and path is the pinned commit's.
A git snapshot may lack some blobs (large files a mirror left out). Those paths are packed as
"omitted": their blob ids take part in the tree hash, so the rest is still verified exactly, and
the run lists them so a reader can judge whether the workflow needs them.
"""

import hashlib
import io
import json
import lzma
import os
import shutil
import subprocess
import tarfile

# docker/comfyui/Dockerfile (ARG ..._COMMIT); test/gpu-smoke.test.ts checks they agree.
PINS = {
    "comfyui": {
        "url": "https://github.com/Comfy-Org/ComfyUI.git",
        "commit": "637221995f7424a561bd825de3e61ea117dfe1e3",
        "dest": "ComfyUI",
    },
    "kjnodes": {
        "url": "https://github.com/kijai/ComfyUI-KJNodes.git",
        "commit": "3fcd22f2fe2be69c3229f192362b91888277cbcb",
        "dest": "ComfyUI/custom_nodes/ComfyUI-KJNodes",
    },
    "vhs": {
        "url": "https://github.com/Kosinkadink/ComfyUI-VideoHelperSuite.git",
        "commit": "08e8df15db24da292d4b7f943c460dc2ab442b24",
        "dest": "ComfyUI/custom_nodes/ComfyUI-VideoHelperSuite",
    },
}

MODE_FILE, MODE_EXEC, MODE_LINK, MODE_TREE = "100644", "100755", "120000", "40000"


def git_id(kind, data):
    """The id git gives an object of this kind and content."""
    return hashlib.sha1(kind.encode() + b" " + str(len(data)).encode() + b"\0" + data).hexdigest()


def tree_id(entries):
    """Root tree id of (path, mode, blob id) entries, as git computes it (trees nested by '/')."""
    root = {}
    for path, mode, blob in entries:
        parts = path.split("/")
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError(f"{path}: a file and a folder share a name")
        node[parts[-1]] = (mode, blob)

    def write(node):
        # git sorts tree entries by name, a folder's name compared as if it ended in '/'.
        items = sorted(node.items(), key=lambda kv: kv[0].encode() + (b"/" if isinstance(kv[1], dict) else b""))
        body = b""
        for name, value in items:
            mode, oid = (MODE_TREE, write(value)) if isinstance(value, dict) else value
            body += mode.encode() + b" " + name.encode() + b"\0" + bytes.fromhex(oid)
        return git_id("tree", body)

    return write(root)


def commit_tree(commit_object):
    """The tree a raw commit object names."""
    first = commit_object.split("\n", 1)[0]
    if not first.startswith("tree ") or len(first) != 45:
        raise ValueError("not a commit object: it does not start with 'tree <40 hex>'")
    return first[5:]


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _git(git_dir, *args, data=None):
    return subprocess.run(["git", "--git-dir", git_dir, *args], input=data, capture_output=True, check=True).stdout


def pack(git_dir, commit, out_path):
    """Packs the tree of `commit` from `git_dir` into out_path (.tar.gz). Returns the manifest entry."""
    commit_object = _git(git_dir, "cat-file", "commit", commit).decode()
    listing = _git(git_dir, "ls-tree", "-r", "-z", "--full-tree", commit).decode().split("\0")
    entries = []
    for line in filter(None, listing):
        meta, path = line.split("\t", 1)
        mode, kind, oid = meta.split(" ")
        if kind != "blob":  # a submodule (commit entry) cannot be carried as files
            raise ValueError(f"{path}: {kind} entries (submodules) are not supported")
        entries.append((path, mode, oid))
    present = subprocess.run(["git", "--git-dir", git_dir, "cat-file", "--batch-check"],
                             input="".join(oid + "\n" for _, _, oid in entries).encode(),
                             capture_output=True, check=True).stdout.decode().splitlines()
    omitted = [{"path": p, "mode": m, "blob": o} for (p, m, o), s in zip(entries, present) if s.endswith(" missing")]
    missing = {o["path"] for o in omitted}
    with tarfile.open(out_path, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        for path, mode, oid in entries:
            if path in missing:
                continue
            data = _git(git_dir, "cat-file", "blob", oid)
            info = tarfile.TarInfo(path)
            if mode == MODE_LINK:
                info.type, info.linkname = tarfile.SYMTYPE, data.decode()
                tar.addfile(info)
            else:
                info.size, info.mode = len(data), 0o755 if mode == MODE_EXEC else 0o644
                tar.addfile(info, io.BytesIO(data))
    return {"commit": commit, "commit_object": commit_object, "omitted": omitted,
            "files": len(entries) - len(omitted), "bytes": os.path.getsize(out_path), "sha256": sha256_file(out_path)}


def tar_entries(path):
    """(path, mode, blob id) of every file and link in a tarball, hashed as git blobs."""
    out = []
    with tarfile.open(path, "r:*") as tar:
        for m in tar:
            if m.isdir():
                continue
            if m.issym():
                out.append((m.name, MODE_LINK, git_id("blob", m.linkname.encode())))
            elif m.isfile():
                data = tar.extractfile(m).read()
                out.append((m.name, MODE_EXEC if m.mode & 0o100 else MODE_FILE, git_id("blob", data)))
            else:
                raise ValueError(f"{m.name}: unexpected tar member type")
    return out


def verify(path, entry, commit):
    """Problems with a packed source against the pinned commit ([] when it is exactly that commit)."""
    problems = []
    if entry.get("commit") != commit:
        problems.append(f"manifest says commit {entry.get('commit')}, the pin is {commit}")
    body = entry.get("commit_object", "")
    if git_id("commit", body.encode()) != commit:
        problems.append(f"the carried commit object hashes to {git_id('commit', body.encode())}, not {commit}")
        return problems
    want = commit_tree(body)
    if sha256_file(path) != entry.get("sha256"):
        problems.append(f"{os.path.basename(path)}: sha256 differs from the manifest (changed after packing)")
    got = tree_id(tar_entries(path) + [(o["path"], o["mode"], o["blob"]) for o in entry.get("omitted", [])])
    if got != want:
        problems.append(f"{os.path.basename(path)}: its files hash to tree {got}, commit {commit[:12]} has tree {want}")
    return problems


def extract(path, dest):
    """Unpacks a verified source tarball into dest (made if missing); refuses paths that leave dest."""
    os.makedirs(dest, exist_ok=True)
    root = os.path.realpath(dest)
    with tarfile.open(path, "r:*") as tar:
        for m in tar.getmembers():
            target = os.path.realpath(os.path.join(root, m.name))
            if not target.startswith(root + os.sep):
                raise ValueError(f"{m.name}: would be written outside {dest}")
        tar.extractall(root)


def read_manifest(carry_dir):
    path = os.path.join(carry_dir, "manifest.json")
    with open(path) as fh:
        return json.load(fh)



def unxz(src, dst, mode=0o644):
    """Decompresses a carried .xz file to dst with the given mode."""
    with lzma.open(src) as fh_in, open(dst, "wb") as fh_out:
        shutil.copyfileobj(fh_in, fh_out)
    os.chmod(dst, mode)
    return dst
