#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: csaf_sync
short_description: Download, verify and mirror CSAF 2.0 security advisories on the controller
version_added: 0.1.0
description:
  - Trusted CSAF 2.0 downloader for AISEC-PATCH-01 (review hardware vendor advisories). It reads a CSAF
    provider (discovered from its domain or given by its C(provider-metadata.json) URL) or a local directory
    / git checkout of advisories (for example a pinned clone of NVIDIA's C(product-security) repository on an
    air-gapped controller), verifies every document and keeps the accepted ones in a content-addressed mirror
    that M(aisec.gpu_host.csaf_match) reads.
  - Runs on the Ansible controller as an action plugin; it never connects to the managed host. Use it once
    per play (C(run_once=true)); C(delegate_to=localhost) is accepted but not needed.
  - "Network rules: only C(https://) URLs, certificate and host name verification always on (O(ca_path) for a
    private CA), at most O(max_redirects) redirects and never to C(http://), its own User-Agent (O(user_agent)).
    Discovery from a domain follows CSAF 2.0 section 7.3.1: C(https://DOMAIN/.well-known/csaf/provider-metadata.json),
    then the C(CSAF:) fields of C(https://DOMAIN/.well-known/security.txt) (https values only), then
    C(https://csaf.data.security.DOMAIN/)."
  - The provider metadata must pass the CSAF 2.0 provider JSON schema and its C(canonical_url) must equal the URL
    it was read from (or the final URL after redirects; for the C(csaf.data.security.DOMAIN) route, a URL on that
    host). ROLIE feeds are used when the provider lists any (only feeds whose TLP label is in
    O(tlp_allow)); otherwise the directory distribution with C(changes.csv) and C(index.txt).
  - "Each document is checked in this order, and rejected (not the whole run) when a check fails: size
    (O(max_size)); hash (C(.sha512) preferred, else C(.sha256); the leading hex token of the file, compared in
    constant time; no hash file means rejection unless O(require_hash=false)); detached OpenPGP signature
    C(<file>.asc) against O(trusted_fingerprints) (a missing signature is an error when fingerprints are pinned);
    strict JSON parsing; TLP of the feed and of the document itself in O(tlp_allow); status C(draft) and CSAF
    test 6.1.17 refused; CSAF 2.0 JSON schema and mandatory tests; file name equal to the C(tracking.id) rule
    of CSAF section 5.1; year folder equal to the year of C(initial_release_date)."
  - "NVIDIA publishes some C(.sha256) files computed over CRLF-converted text (2023/5449, 2024/5586,
    2025/5703, 2025/5708) and two documents whose revision dates are plain dates, not the C(date-time) the
    schema requires (2026/5817, 2026/5865). Both are known publisher defects and are accepted by default with a
    warning on every run: the CRLF digest still proves the content (JSON has no raw line breaks inside strings,
    so both byte forms parse to the same document), and a date is read as midnight UTC. O(strict=true) rejects
    them instead."
  - "Every document that could not be used is recorded, with the components of the collection's vocabulary
    it names, in C(index.json) (key C(rejected)); M(aisec.gpu_host.csaf_match) reads that list from the mirror
    and reports each of them as C(undecided) for those components (for every component when the content could
    not be trusted, such as a hash mismatch). A bulletin is therefore never dropped silently."
  - "Mirror layout in O(dest) (the directory belongs to this module):
    C(index.json) maps each source URL or path to tracking ID, version, current_release_date, sha256, hash and
    signature status, source and fetch time; C(blobs/sha256/AA/SHA256) holds accepted documents by the sha256
    of their bytes; C(http_cache/) holds the last provider listings; C(YYYY/FILE.json) is the tree of accepted
    documents (YYYY = year of C(initial_release_date), FILE = the CSAF file name rule), as relative symbolic
    links into C(blobs/) (O(tree_mode=symlink)) or as copies (O(tree_mode=copy))."
  - A re-run fetches only what changed, using C(changes.csv) dates, ROLIE C(updated) values and HTTP
    C(ETag)/C(Last-Modified) validators; the content hash decides whether a document counts as updated.
    Providers that edit documents in place without changing those markers are caught with O(full_resync=true).
    When the acceptance policy changes (O(tlp_allow), O(max_size), O(require_hash), O(accept_crlf_hash),
    O(strict), O(trusted_fingerprints)) every document is verified again and those that no longer pass leave the
    mirror.
  - A document that was accepted earlier and now fails (changed content with a bad hash, download error) keeps
    its previous verified version in the mirror and is reported in RV(rejected).
author:
  - aisec.gpu_host maintainers (!UNKNOWN)
options:
  source:
    description:
      - Where the advisories come from, interpreted according to O(source_type).
      - With O(source_type=auto), a value containing C(://) is a provider metadata URL (it must be C(https://)),
        a value starting with C(/), C(./), C(../) or C(~) is a local directory, anything else is a domain
        (optionally C(host:port)).
      - A local directory holds C(YYYY/FILE.json) or NVIDIA's C(YYYY/ID/ID.json), with C(.sha512) or C(.sha256)
        and optionally C(.asc) files next to each document. Other JSON files (such as NVIDIA's C(CVE-*.json))
        and hidden directories are ignored; symbolic links are not followed.
      - Relative paths are relative to the playbook directory.
    type: str
    required: true
  source_type:
    description:
      - How to read O(source).
    type: str
    choices: [auto, domain, provider_metadata_url, directory]
    default: auto
  dest:
    description:
      - Mirror directory on the controller; created when missing. Use one O(dest) per source; the module refuses
        a O(dest) that mirrors another source, and a non-empty directory without its C(index.json). It removes
        files in C(YYYY) folders that it did not put there.
      - Relative paths are relative to the playbook directory.
    type: path
    required: true
  trusted_fingerprints:
    description:
      - Full OpenPGP fingerprints (40 or 64 hex digits; spaces allowed) of the keys allowed to sign the
        provider's documents. Key IDs are refused.
      - When given, the provider is treated as trusted, so every document must carry a detached signature
        C(<file>.asc) made by one of these keys, else it is rejected. C(gpg) must be installed on the
        controller; keys are imported into a temporary, isolated C(GNUPGHOME) and only pinned keys are used.
      - When empty, signatures are not checked and RV(documents[].signature) is C(not_checked).
    type: list
    elements: str
    default: []
  public_keys:
    description:
      - Files with OpenPGP public keys (armoured or binary) for O(trusted_fingerprints). Keys listed in the
        provider metadata C(public_openpgp_keys) are fetched too when their fingerprint is pinned (or not given),
        but pinning decides trust, never the key's origin.
      - Relative paths are relative to the playbook directory.
    type: list
    elements: path
    default: []
  tlp_allow:
    description:
      - TLP labels that may be mirrored, checked on the ROLIE feed and again on the document's own label.
        C(UNLABELED) stands for documents or feeds without a label. Values may carry a C(TLP:) prefix.
    type: list
    elements: str
    default: [WHITE, CLEAR, GREEN, UNLABELED]
  max_size:
    description:
      - Largest accepted document in bytes (CSAF consumers must handle 15 MiB). Larger downloads are aborted.
    type: int
    default: 15728640
  max_listing_size:
    description:
      - Largest ROLIE feed, C(changes.csv) or C(index.txt) in bytes.
    type: int
    default: 67108864
  require_hash:
    description:
      - Reject documents that have neither a C(.sha512) nor a C(.sha256) file. Only set to V(false) for
        sources known to publish no hashes.
    type: bool
    default: true
  accept_crlf_hash:
    description:
      - Accept a hash file that matches the document's text with CRLF line endings instead of its published
        bytes (a known NVIDIA publishing defect). Each such document is reported in RV(sync_warnings) and
        carries C(<algo>-crlf) in RV(documents[].hash).
      - Ignored (V(false)) with O(strict=true). Any other mismatch is always a rejection.
    type: bool
    default: true
  strict:
    description:
      - Reject documents with known publisher defects instead of accepting them with a warning - a hash file over
        CRLF-converted text (overrides O(accept_crlf_hash)) and a date-only value where the CSAF schema requires
        a C(date-time).
      - Rejected documents are reported by M(aisec.gpu_host.csaf_match) as C(undecided) for the components they
        name, so strict mode never turns into "not affected".
    type: bool
    default: false
  ca_path:
    description:
      - CA certificate file (PEM) or hashed certificate directory used instead of the system trust store,
        for providers behind a private CA.
    type: path
  timeout:
    description:
      - Timeout in seconds for each network operation.
    type: int
    default: 30
  workers:
    description:
      - Documents downloaded and verified in parallel (1 to 16).
    type: int
    default: 2
  user_agent:
    description:
      - User-Agent header sent with every request.
    type: str
    default: aisec.gpu_host-csaf_sync/0.1.0
  max_redirects:
    description:
      - Redirects followed per request (0 to 10); a redirect to a non-https URL is always refused.
    type: int
    default: 3
  use_proxy:
    description:
      - Use the C(https_proxy)/C(no_proxy) environment variables of the controller.
    type: bool
    default: true
  full_resync:
    description:
      - Download and verify every listed document again, ignoring change markers and HTTP validators. Catches
        silent in-place edits; the content hash still decides whether a document counts as updated.
    type: bool
    default: false
  tree_mode:
    description:
      - How the C(YYYY/FILE.json) tree in O(dest) refers to the stored documents. V(symlink) creates relative
        symbolic links into C(blobs/) (no duplicate data, the tree is provably the verified bytes); V(copy)
        writes copies, for consumers that cannot follow links.
    type: str
    choices: [symlink, copy]
    default: symlink
  expected_commit:
    description:
      - For a directory source that is a git checkout, the commit (7 to 64 hex digits, a prefix is enough)
        that must be checked out. The run fails when C(HEAD) differs. The check reads C(HEAD) only; uncommitted
        edits are caught by the hash files, not by this option.
    type: str
  fail_on_rejected:
    description:
      - Fail the task when any document was rejected. By default rejections are reported in RV(rejected) and
        the task succeeds.
    type: bool
    default: false
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: partial
    details:
      - For a remote source, check mode makes no network request at all (not even for the provider metadata)
        and says plainly that what would change is unknown.
      - For a directory source, check mode reads the files and compares their hashes with the index to report
        what would be checked as new or changed; it verifies and writes nothing.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  action:
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on the controller.
    support: full
  async:
    description: Supports being used with the C(async) keyword.
    support: none
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
    platforms: posix
    details: Runs on the controller only; the managed host is never contacted.
notes:
  - "Requires on the controller: Python packages C(jsonschema) and C(referencing) (schema validation), and
    C(gpg) (and preferably C(gpgv)) when O(trusted_fingerprints) are set."
  - Documents that fail validation do not abort the run; the reasons are in RV(rejected).
  - Old blobs that the index no longer refers to are deleted at the end of each run.
seealso:
  - name: CSAF 2.0 (OASIS Standard)
    description: Section 7 lists the distribution requirements checked here.
    link: https://docs.oasis-open.org/csaf/csaf/v2.0/os/csaf-v2.0-os.html
  - name: NVIDIA product security advisories
    description: NVIDIA's CSAF files (no provider metadata, no signatures).
    link: https://github.com/NVIDIA/product-security
"""

EXAMPLES = r"""
- name: Mirror NVIDIA advisories from a pinned local checkout (air-gapped controller)
  aisec.gpu_host.csaf_sync:
    source: /srv/mirror/nvidia-product-security
    dest: /var/lib/aisec/csaf/nvidia
    expected_commit: 3f2c1e9a7b4d
    strict: false  # the default: NVIDIA's CRLF .sha256 and date-only timestamps accepted, reported per document
  run_once: true
  register: nvidia_csaf
  tags: [AISEC-PATCH-01, patching]

- name: Sync a trusted provider discovered from its domain, signatures pinned
  aisec.gpu_host.csaf_sync:
    source: example.com
    dest: /var/lib/aisec/csaf/example
    trusted_fingerprints:
      - "A891 4CA2 F111 39C6 A69A  0018 FB3C D9B1 5DE6 1596"
    public_keys:
      - files/example-csaf-signing-key.asc
  run_once: true
  tags: [AISEC-PATCH-01, patching]

- name: Sync from a provider metadata URL behind a private CA and fail on any rejection
  aisec.gpu_host.csaf_sync:
    source: https://csaf.internal.example.org/.well-known/csaf/provider-metadata.json
    dest: /var/lib/aisec/csaf/internal
    ca_path: /etc/pki/internal-ca.pem
    tlp_allow: [WHITE, GREEN, AMBER]
    fail_on_rejected: true
  run_once: true
  tags: [AISEC-PATCH-01, patching]

- name: Show what was rejected
  ansible.builtin.debug:
    msg: "{{ item.source }}: {{ item.reason }}"
  loop: "{{ nvidia_csaf.rejected }}"
  run_once: true
  tags: [AISEC-PATCH-01, patching]
"""

RETURN = r"""
msg:
  description: Summary of the run; in check mode it says plainly what was and was not done.
  returned: always
  type: str
  sample: "CSAF sync done: 3 new, 0 updated, 178 unchanged, 1 rejected"
counts:
  description:
    - Number of documents per outcome. In check mode with a remote source all are 0 because nothing was fetched.
  returned: success
  type: dict
  contains:
    new:
      description: Documents accepted for the first time.
      type: int
    updated:
      description: Documents whose content (sha256) changed and that were accepted again.
      type: int
    unchanged:
      description: Documents not changed since the last run (not downloaded, or same content).
      type: int
    rejected:
      description: Documents or listing entries refused; see RV(rejected).
      type: int
  sample: {new: 3, updated: 0, unchanged: 178, rejected: 1}
documents:
  description:
    - The accepted documents seen in this run (new, updated and unchanged), sorted by tree path.
    - In check mode with a directory source, only V(source), V(state) and V(sha256) are set.
  returned: success
  type: list
  elements: dict
  contains:
    tracking_id:
      description: C(/document/tracking/id).
      type: str
      sample: EXAMPLE-2024-0001
    version:
      description: C(/document/tracking/version).
      type: str
      sample: "2"
    current_release_date:
      description: C(/document/tracking/current_release_date).
      type: str
      sample: "2024-10-22T00:00:00.000Z"
    state:
      description: V(new), V(updated) or V(unchanged).
      type: str
    path:
      description: Absolute path of the document in the O(dest) tree.
      type: str
      sample: /var/lib/aisec/csaf/example/2024/example-2024-0001.json
    sha256:
      description: sha256 of the document bytes (its blob name).
      type: str
    hash:
      description: Hash check that passed, V(sha512), V(sha256), V(sha512-crlf), V(sha256-crlf) or V(none).
      type: str
    signature:
      description: V(valid) (signed by a pinned key) or V(not_checked) (no fingerprints pinned).
      type: str
    signer:
      description: Pinned fingerprint that signed the document, or null.
      type: str
    source:
      description: URL or path (relative to the source directory) the document came from.
      type: str
    warnings:
      description: Per-document warnings, such as an accepted CRLF hash.
      type: list
      elements: str
rejected:
  description: Documents and listing entries that were refused.
  returned: success
  type: list
  elements: dict
  contains:
    source:
      description: URL or relative path.
      type: str
    reason:
      description: Why it was refused.
      type: str
      sample: "document is labelled TLP:RED, which is not in tlp_allow (WHITE, CLEAR, GREEN, UNLABELED)"
    tracking_id:
      description: Tracking ID when the document could be read that far.
      type: str
    kept_previous:
      description: True when an earlier verified version of the document stays in the mirror.
      type: bool
    components:
      description:
        - Components of the collection's vocabulary the document names; C(null) when unknown or when its content
          cannot be trusted (then M(aisec.gpu_host.csaf_match) reports it for every component).
      type: list
      elements: str
      sample: [nvidia_driver]
sync_warnings:
  description:
    - Warnings of the run (also shown as task warnings), for example accepted CRLF hashes, skipped feeds,
      ignored non-https C(security.txt) entries or unpinned keys.
  returned: success
  type: list
  elements: str
errors:
  description: Listings (ROLIE feeds, C(changes.csv), C(index.txt)) that could not be read; the task fails.
  returned: when a listing failed
  type: list
  elements: str
dest:
  description: Absolute path of the mirror directory.
  returned: success
  type: str
index:
  description: Absolute path of C(index.json) in O(dest).
  returned: success
  type: str
tree_changes:
  description: Tree paths (C(YYYY/FILE.json)) created, replaced or removed in this run.
  returned: success
  type: list
  elements: str
source:
  description: The source as recorded in the index.
  returned: success
  type: dict
  contains:
    type:
      description: V(domain), V(provider_metadata_url) or V(directory).
      type: str
    value:
      description: Domain, URL or absolute directory path.
      type: str
    provider_metadata_url:
      description: Provider metadata URL used (remote sources).
      type: str
    commit:
      description: Git commit checked out in a directory source, or null.
      type: str
provider:
  description: Facts about the provider metadata used; null for directory sources and in check mode.
  returned: success
  type: dict
  contains:
    provider_metadata_url:
      description: URL the metadata was read from.
      type: str
    discovered_via:
      description: V(configured URL), V(well-known URL), V(security.txt) or V(DNS name).
      type: str
    canonical_url:
      description: C(canonical_url) of the metadata.
      type: str
    role:
      description: C(role) of the metadata, such as C(csaf_trusted_provider).
      type: str
    publisher:
      description: C(publisher.name).
      type: str
    last_updated:
      description: C(last_updated) of the metadata.
      type: str
requests:
  description: Number of HTTPS requests sent in this run (0 in check mode and for directory sources).
  returned: success
  type: int
check_mode:
  description: Whether the run was a check-mode run.
  returned: success
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.aisec.gpu_host.plugins.module_utils.csaf_sync import ARGUMENT_SPEC


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    module.fail_json(msg="aisec.gpu_host.csaf_sync runs as an action plugin on the controller; this module file only"
                         " carries its documentation. Check that the collection's action plugin is installed.")


if __name__ == "__main__":
    main()
