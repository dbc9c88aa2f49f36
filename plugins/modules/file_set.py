#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
---
module: file_set
short_description: Manage many files and directories in one call (templates, content, directories, removals)
version_added: 0.1.0
description:
  - Puts a list of files and directories into the wanted state with B(one) module run on the target, instead of
    one M(ansible.builtin.template), M(ansible.builtin.copy) or M(ansible.builtin.file) task (two module runs
    each) per path. For what it covers it behaves like those modules.
  - It is an action plugin plus a module. The action plugin, on the controller, checks the arguments and renders
    every O(files[].src) template exactly like M(ansible.builtin.template) (role C(templates/) search path,
    C(ansible_managed), C(trim_blocks=true), trailing newline kept), with the task variables plus the entry's
    O(files[].vars). It then runs the module once with every entry turned into O(files[].content).
  - "The module works in three steps: it reads the state of every path and refuses the whole call, changing
    nothing, when any entry cannot be applied (unknown owner or group, a directory where a file is wanted or the
    reverse, a missing parent directory that no earlier entry creates); it then runs every O(files[].validate)
    command on a temporary copy of each file whose content changes, and refuses the whole call, changing
    nothing, when any fails; only then it applies the entries in list order."
  - A file's content is compared by the sha256 of its bytes; owner, group and mode are compared after that. New
    content is written to a temporary file in the same directory that gets the owner, group and mode before it
    is renamed over the destination, so the file never exists with other permissions or partial content.
  - RV(changed_controls) lists the control ids (O(files[].controls)) of the entries that changed, so one task can
    carry several controls and a report can still attribute drift to each control exactly.
author:
  - aisec.gpu_host maintainers (!UNKNOWN)
options:
  files:
    description:
      - The files and directories, applied in list order. Every O(files[].path) may appear only once.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description:
          - Absolute path on the target.
        type: str
        required: true
      state:
        description:
          - V(file) a regular file with O(files[].src) or O(files[].content). A symbolic link at the path is
            replaced by the file.
          - V(directory) a directory; missing parent directories are created too (owned by the module user, mode
            C(0755)). A symbolic link to a directory is followed.
          - V(absent) nothing at the path; a directory is removed with everything in it.
        type: str
        choices: [file, directory, absent]
        default: file
      src:
        description:
          - Template file rendered on the controller, looked up like the O(ansible.builtin.template#module:src) of
            M(ansible.builtin.template) (the role's C(templates/) directory first).
          - Exactly one of O(files[].src) and O(files[].content) is required with O(files[].state=file).
        type: str
      content:
        description:
          - Literal content of the file, written as given (no newline is added).
        type: str
      vars:
        description:
          - "Extra variables for this entry's template, on top of the task variables (for example V({item: ...}))."
          - Only with O(files[].src).
        type: dict
      owner:
        description:
          - User name (or number) that owns the file or directory. Not enforced when omitted.
        type: str
      group:
        description:
          - Group name (or number) of the file or directory. Not enforced when omitted.
        type: str
      mode:
        description:
          - Permissions as a quoted octal string, for example V("0644") or V("2750"). Symbolic modes are not
            supported. Required for O(files[].state=file) and O(files[].state=directory).
        type: str
      validate:
        description:
          - Command that checks a candidate file before it replaces the destination; V(%s) stands for the path of
            the candidate (a temporary copy with the entry's owner, group and mode and the destination's base
            name). It runs without a shell (split like a shell would).
          - Runs only when the content changes, and not in check mode (like M(ansible.builtin.template)).
          - Every validation runs before any entry is applied, so it sees every other path as it was before the
            call (a validator script or an included file written by the same call is not in place yet).
        type: str
      force:
        description:
          - V(false) creates the file when it is missing but never rewrites the content of an existing file; owner,
            group and mode are still enforced.
        type: bool
        default: true
      exclusive:
        description:
          - With O(files[].state=directory), remove every regular file and symbolic link directly in the directory
            whose path is not an O(files[].path) of this call.
          - Not recursive; sub-directories and special files (sockets, pipes, devices) are left alone.
        type: bool
        default: false
      controls:
        description:
          - Control ids (C(AISEC-<AREA>-<NN>), see C(docs/controls.md)) that this entry enforces; reported in
            RV(changed_controls) when the entry changes.
        type: list
        elements: str
        default: []
  before_change:
    description:
      - A command (argument list, no shell) to run once, after every validation passed and right before the
        first entry is changed, for example one that saves the current configuration and arms a rollback timer.
      - Not run in check mode or when nothing changes. When it fails the module fails and nothing is changed.
      - RV(before_change) tells whether it ran.
    type: list
    elements: str
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Check mode writes nothing (and runs no O(files[].validate) command) and reports exactly what would change.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
  action:
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on the controller.
    support: full
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
notes:
  - This is an action plugin plus a module. Templates are rendered on the controller; the target needs only Python.
  - The module does not manage SELinux contexts beyond the default context of new and replaced paths, nor file
    attributes (C(chattr)), ACLs, or symbolic link targets.
  - Content diffs are shown for text files up to 128 KiB; larger or binary content is shown by its sha256.
requirements:
  - Python on the target as ansible-core supports it (3.8 or later for ansible-core 2.19); the module uses the
    standard library only and keeps to Python 3.6 syntax.
seealso:
  - module: ansible.builtin.template
  - module: ansible.builtin.copy
  - module: ansible.builtin.file
"""

EXAMPLES = r"""
- name: Sudo and SSH drop-ins in one call, each validated before any is installed
  aisec.gpu_host.file_set:
    files:
      - path: /etc/sudoers.d/aisec
        src: sudoers.j2
        owner: root
        group: root
        mode: "0440"
        validate: /usr/sbin/visudo -cf %s
        controls: [AISEC-ACCESS-03]
      - path: /etc/ssh/sshd_config.d/50-aisec.conf
        src: sshd_access.conf.j2
        owner: root
        group: root
        mode: "0600"
        validate: /usr/sbin/sshd -t -f %s
        controls: [AISEC-ACCESS-02]

- name: A private directory that holds exactly the listed keys
  aisec.gpu_host.file_set:
    files:
      - path: /etc/aisec/keys
        state: directory
        owner: root
        group: root
        mode: "0700"
        exclusive: true
        controls: [AISEC-ACCESS-01]
      - path: "/etc/aisec/keys/{{ item.name }}.pub"
        content: "{{ item.key }}\n"
        owner: root
        group: root
        mode: "0600"
        controls: [AISEC-ACCESS-01]
      - path: /etc/aisec/old.conf
        state: absent

- name: The same template for two services, each with its own variables
  aisec.gpu_host.file_set:
    files:
      - path: /etc/systemd/system/vllm.service.d
        state: directory
        mode: "0755"
      - path: /etc/systemd/system/vllm.service.d/aisec.conf
        src: service-dropin.conf.j2
        vars: {service: vllm}
        mode: "0644"
      - path: /etc/systemd/system/triton.service.d
        state: directory
        mode: "0755"
      - path: /etc/systemd/system/triton.service.d/aisec.conf
        src: service-dropin.conf.j2
        vars: {service: triton}
        mode: "0644"

- name: Create a file only when it is missing (never rewrite local edits)
  aisec.gpu_host.file_set:
    files:
      - path: /etc/aisec/site.local
        content: "# local settings\n"
        mode: "0644"
        force: false
  register: local_files

- name: Show what changed
  ansible.builtin.debug:
    msg: "{{ local_files.files | selectattr('changed') | map(attribute='path') | list }}"
"""

RETURN = r"""
before_change:
  description: Whether O(before_change) ran (only when something changed outside check mode).
  returned: success
  type: bool
  sample: false
changed_controls:
  description: Sorted control ids (O(files[].controls)) of the entries that changed (or would change, in check mode).
  returned: success
  type: list
  elements: str
  sample: [AISEC-ACCESS-03]
files:
  description: One result per entry, in entry order.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: The normalised path.
      type: str
      sample: /etc/sudoers.d/aisec
    state:
      description: The entry's O(files[].state).
      type: str
      sample: file
    changed:
      description: Whether this entry changed (would change in check mode).
      type: bool
      sample: true
    changes:
      description:
        - What changed, in this order of names; V(created), V(replaced) (a symbolic link replaced by the file),
          V(content), V(owner), V(group), V(mode), V(removed), V(purged) (an exclusive directory lost paths).
      type: list
      elements: str
      sample: [content, mode]
    purged:
      description: Paths removed from an exclusive directory (only for such entries).
      type: list
      elements: str
      sample: [/etc/aisec/keys/old.pub]
diff:
  description:
    - With C(--diff), a list of diffs in the shape of the file and template modules; C(before_header),
      C(after_header), C(before), C(after) for content, C(before)/C(after) dictionaries (path, state, owner, group,
      mode) for attributes and removals.
  returned: when diff mode is on and something changed
  type: list
  elements: dict
"""

import grp
import hashlib
import os
import pwd
import shlex
import shutil
import stat
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native
from ansible_collections.aisec.gpu_host.plugins.module_utils.file_set import (
    MAX_DIFF_BYTES,
    entry_diffs,
    exclusive_removals,
    file_kind,
    normalize_entries,
    parent_created_earlier,
    plan_entry,
    sha256_bytes,
    summarize,
    validate_argv,
)

ENTRY_SPEC = dict(
    path=dict(type="str", required=True),
    state=dict(type="str", default="file", choices=["file", "directory", "absent"]),
    src=dict(type="str"),
    content=dict(type="str"),
    vars=dict(type="dict"),
    owner=dict(type="str"),
    group=dict(type="str"),
    mode=dict(type="str"),
    validate=dict(type="str"),
    force=dict(type="bool", default=True),
    exclusive=dict(type="bool", default=False),
    controls=dict(type="list", elements="str", default=[]),
)

ARGUMENT_SPEC = dict(files=dict(type="list", elements="dict", required=True, options=ENTRY_SPEC),
                     before_change=dict(type="list", elements="str"))


def _lookup(kind, value):
    """uid/gid of a user/group name (or number); None when unknown."""
    getnam, getid = (pwd.getpwnam, pwd.getpwuid) if kind == "owner" else (grp.getgrnam, grp.getgrgid)
    try:
        entry = getnam(value)
        return entry.pw_uid if kind == "owner" else entry.gr_gid
    except KeyError:
        pass
    if value.isdigit():
        number = int(value)
        try:
            getid(number)
        except KeyError:
            pass
        return number  # a number is accepted without a name, like chown does
    return None


def _name(kind, number):
    try:
        return pwd.getpwuid(number).pw_name if kind == "owner" else grp.getgrgid(number).gr_name
    except KeyError:
        return str(number)


def _hash_file(path, keep):
    """(sha256, bytes or None): the bytes are kept when ``keep`` and the file is at most MAX_DIFF_BYTES."""
    digest = hashlib.sha256()
    data = []
    size = 0
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(1024 * 1024)
            if not chunk:
                break
            digest.update(chunk)
            size += len(chunk)
            if keep and size <= MAX_DIFF_BYTES:
                data.append(chunk)
    return digest.hexdigest(), (b"".join(data) if keep and size <= MAX_DIFF_BYTES else None)


def _stat(path, follow):
    """Snapshot of a path: None when missing, else {kind, uid, gid, mode}."""
    try:
        st = os.lstat(path)
        if follow and stat.S_ISLNK(st.st_mode):
            try:
                st = os.stat(path)
            except OSError:
                pass  # dangling link: stays a link
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        return None
    return {"kind": file_kind(st.st_mode), "uid": st.st_uid, "gid": st.st_gid, "mode": stat.S_IMODE(st.st_mode)}


def _write_temp(directory, basename, data, uid, gid, mode):
    """A new file in ``directory`` with ``data`` and the attributes set before anyone else can open it."""
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".%s." % basename, suffix=".file_set")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            if uid is not None or gid is not None:
                os.fchown(fh.fileno(), -1 if uid is None else uid, -1 if gid is None else gid)
            os.fchmod(fh.fileno(), mode)  # after fchown, which clears set-id bits
            os.fsync(fh.fileno())
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return tmp


def _set_attributes(path, uid, gid, mode):
    if uid is not None or gid is not None:
        os.chown(path, -1 if uid is None else uid, -1 if gid is None else gid)
    os.chmod(path, mode)


def _selinux_default(module, path):
    if module.selinux_enabled():
        module.set_default_selinux_context(path, False)


def _make_dirs(module, path, uid, gid, mode):
    missing = []
    cur = path
    while not os.path.lexists(cur):
        missing.append(cur)
        cur = os.path.dirname(cur)
    for directory in reversed(missing):
        leaf = directory == path
        os.mkdir(directory, 0o700 if leaf else 0o755)
        if leaf:
            _set_attributes(directory, uid, gid, mode)
        else:
            os.chmod(directory, 0o755)
        _selinux_default(module, directory)


def _remove(path, kind):
    if kind == "directory":
        shutil.rmtree(path)
    else:
        os.unlink(path)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    entries, errors = normalize_entries(module.params["files"], allow_src=False)
    if errors:
        module.fail_json(msg="Invalid files: " + "; ".join(errors), files=[])
    want_diff = module._diff
    listed = set(e["path"] for e in entries)

    # 1. Read the state of every path and plan; refuse the whole call on any problem.
    problems = []
    plans = []
    for index, entry in enumerate(entries):
        ids = {}
        for kind in ("owner", "group"):
            if entry[kind] is not None:
                number = _lookup(kind, entry[kind])
                if number is None:
                    problems.append("%s: %s %r does not exist on the host" % (entry["path"], kind, entry[kind]))
                ids[kind] = number
            else:
                ids[kind] = None
        path = entry["path"]
        current = _stat(path, follow=entry["state"] == "directory")
        data = None
        new_sha = None
        before_content = before_sha = None
        if entry["state"] == "file":
            data = to_bytes(entry["content"], errors="surrogate_or_strict")
            new_sha = sha256_bytes(data)
            if current is not None and current["kind"] == "file" and entry["force"]:
                try:
                    before_sha, before_content = _hash_file(path, want_diff)
                except (IOError, OSError) as exc:
                    problems.append("%s: cannot read: %s" % (path, to_native(exc)))
                current["sha256"] = before_sha
            parent = os.path.dirname(path)
            if not os.path.isdir(parent) and not parent_created_earlier(entries, index):
                problems.append("%s: parent directory %s does not exist (add a state=directory entry before it)"
                                % (path, parent))
        elif entry["state"] == "directory" and current is None:
            ancestor = os.path.dirname(path)
            while not os.path.lexists(ancestor):
                ancestor = os.path.dirname(ancestor)
            if not os.path.isdir(ancestor):
                problems.append("%s: cannot create the directory: %s is not a directory" % (path, ancestor))
        changes, error = plan_entry(entry, current, ids["owner"], ids["group"], new_sha)
        if error:
            problems.append(error)
        purged = []
        if entry["state"] == "directory" and entry["exclusive"] and current is not None and current["kind"] == "directory":
            listing = []
            for name in sorted(os.listdir(path)):
                st = os.lstat(os.path.join(path, name))
                listing.append((name, file_kind(st.st_mode)))
            purged = exclusive_removals(path, listing, listed)
            if purged:
                changes.append("purged")
        plans.append(dict(entry=entry, current=current, changes=changes, uid=ids["owner"], gid=ids["group"],
                          data=data, before_content=before_content, before_sha=before_sha, purged=purged))
    if problems:
        module.fail_json(msg="Nothing changed: " + "; ".join(problems), files=[])

    results = []
    diffs = []
    for plan in plans:
        entry = plan["entry"]
        result = {"path": entry["path"], "state": entry["state"], "changed": bool(plan["changes"]),
                  "changes": plan["changes"]}
        if entry["exclusive"]:
            result["purged"] = [p for p, dummy in plan["purged"]]
        results.append(result)
        if want_diff and plan["changes"]:
            current = plan["current"]
            names = {"after_owner": entry["owner"] and _name("owner", plan["uid"]),
                     "after_group": entry["group"] and _name("group", plan["gid"])}
            if current:
                names.update(before_owner=_name("owner", current["uid"]), before_group=_name("group", current["gid"]))
            diffs.extend(entry_diffs(entry, current, plan["changes"], names, plan["before_content"], plan["data"],
                                     plan["purged"], plan["before_sha"]))
    changed, changed_controls = summarize(entries, results)
    out = dict(changed=changed, changed_controls=changed_controls, files=results, before_change=False)
    if want_diff:
        out["diff"] = diffs
    if module.check_mode or not changed:
        module.exit_json(**out)

    # 2. Validate every changed file that has a validate command, before anything is applied.
    writes = [p for p in plans if p["entry"]["state"] == "file" and {"created", "replaced", "content"} & set(p["changes"])]
    # A private (0700) directory in the system temporary directory: module.tmpdir would create the remote_tmp
    # directory with a warning on hosts that never had one (pipelining transfers nothing).
    checkdir = tempfile.mkdtemp(prefix="ansible-file_set-")
    try:
        for plan in writes:
            entry = plan["entry"]
            if not entry["validate"]:
                continue
            sub = os.path.join(checkdir, str(entry["index"]))
            os.mkdir(sub, 0o700)
            candidate = _write_temp(sub, os.path.basename(entry["path"]), plan["data"], plan["uid"], plan["gid"],
                                    entry["mode"])
            final = os.path.join(sub, os.path.basename(entry["path"]))
            os.rename(candidate, final)
            argv = validate_argv(entry["validate"], final)
            rc, stdout, stderr = module.run_command(argv)
            if rc != 0:
                module.fail_json(
                    msg="Nothing changed: validation of %s failed: %s exited %d: %s"
                        % (entry["path"], " ".join(shlex.quote(a) for a in argv), rc, (stderr or stdout).strip()),
                    path=entry["path"], cmd=argv, rc=rc, stdout=stdout, stderr=stderr, files=[])
    finally:
        shutil.rmtree(checkdir, ignore_errors=True)

    # 3. The caller's hook (e.g. save the configuration and arm a rollback timer), then apply in list order.
    if module.params["before_change"]:
        argv = module.params["before_change"]
        rc, stdout, stderr = module.run_command(argv)
        if rc != 0:
            module.fail_json(msg="Nothing changed: the before_change command %s exited %d: %s"
                                 % (" ".join(shlex.quote(a) for a in argv), rc, (stderr or stdout).strip()),
                             cmd=argv, rc=rc, stdout=stdout, stderr=stderr, files=[], before_change=False)
        out["before_change"] = True
    done = []
    for plan, result in zip(plans, results):
        entry = plan["entry"]
        path = entry["path"]
        changes = plan["changes"]
        try:
            if not changes:
                pass
            elif entry["state"] == "absent":
                _remove(path, plan["current"]["kind"])
            elif entry["state"] == "directory":
                if "created" in changes:
                    _make_dirs(module, path, plan["uid"], plan["gid"], entry["mode"])
                elif {"owner", "group", "mode"} & set(changes):
                    _set_attributes(path, plan["uid"], plan["gid"], entry["mode"])
                for gone, kind in plan["purged"]:
                    _remove(gone, kind)
            elif {"created", "replaced", "content"} & set(changes):
                tmp = _write_temp(os.path.dirname(path), os.path.basename(path), plan["data"], plan["uid"],
                                  plan["gid"], entry["mode"])
                try:
                    os.rename(tmp, path)
                except BaseException:
                    os.unlink(tmp)
                    raise
                _selinux_default(module, path)
            else:
                _set_attributes(path, plan["uid"], plan["gid"], entry["mode"])
        except (IOError, OSError) as exc:
            module.fail_json(msg="%s: %s (entries before it were applied)" % (path, to_native(exc)),
                             changed=any(r["changed"] for r in done), files=done + [result],
                             before_change=out["before_change"])
        done.append(result)
    module.exit_json(**out)


if __name__ == "__main__":
    main()
