# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: csaf_match
short_description: Match installed NVIDIA GPU host components against CSAF security advisories
version_added: "0.1.0"
description:
  - Reads CSAF 2.0 security advisories from a directory tree on the controller (for example a mirror written
    by M(aisec.gpu_host.csaf_sync) or a checkout of NVIDIA's C(<year>/<id>/<id>.json) repository) and reports
    which advisories affect the components you give, the first fixed version on the same driver branch, the
    smallest version that fixes every finding, and - never hidden - every advisory about a component that could
    not be read, compared or verified (status C(undecided)).
  - Runs on the controller only (action plugin); it never connects to the managed host and changes nothing.
    The host's component versions come from facts; M(aisec.gpu_host.gpu_facts) returns them in the form
    O(components) expects.
  - "Statuses follow CSAF 2.0: C(first_affected), C(known_affected), C(last_affected) make a finding;
    C(fixed), C(first_fixed) and C(recommended) contain a fix; C(known_not_affected) is not affected;
    C(under_investigation) is reported. A component an advisory does not list gets B(no statement) from it,
    never I(not affected)."
  - "Fail closed: when an advisory that names a component has a product text the adapter cannot read, gives
    versions of another numbering scheme (Triton server C(2.40) against a container C(24.11), NeMo package C(2.1.0)
    against container C(24.12)), cannot be ordered against the installed version (a pre-release under C(intdot)),
    or could not be used at all (rejected by validation or by M(aisec.gpu_host.csaf_sync), recorded in the
    mirror's C(index.json)), the component is C(undecided), which outranks C(not_affected). RV(summary) and
    RV(msg) say why. The meanings of the statuses are in the collection's C(docs/csaf.md)."
  - NVIDIA advisories carry free-text conditions (C(All driver versions prior to 535.183.01),
    C(535.161.08(All versions up to and including vGPU 16.5)), C(v1.17)). The C(nvidia) vendor adapter reads
    them with a whitelist of patterns; anything it does not understand is listed in RV(not_understood) and
    never used for a decision. NVIDIA fixes are cumulative within a driver branch, and a driver is compared within
    its own branch (C(535.x) is C(R535)). NVIDIA driver bulletins state that earlier branches they do not list
    might also be affected, so a driver on a branch older than a listed one that the bulletin does not list is
    affected with no fix on its branch (RV(summary.branch_change_required)); RV(summary.branch_change_version)
    names the lowest version on a newer listed branch that every bulletin accepts. This module never changes a
    branch itself.
  - Architecture branches naming several operating systems (C(Windows, Linux), C(Citrix Hypervisor, VMware
    vSphere, Red Hat Enterprise Linux KVM, Ubuntu(R535 vGPU 16))) count for each of them. Software components are
    compared with PEP 440 ordering, so C(1.3.0rc15) sorts before C(1.3.0rc17) and C(1.3.0).
  - Other publishers are read through the generic path, C(product_version) (one exact version) and
    C(product_version_range) (canonical vers; the discouraged vls form is read best-effort and flagged
    uncertain), with purl and CPE helpers used to recognise the component.
  - Every document is parsed once. Invalid documents (see O(validate)) and drafts are rejected with reasons;
    of several revisions of one advisory only the newest is used.
author:
  - aisec.gpu_host maintainers (!UNKNOWN)
options:
  documents:
    description:
      - Directories (searched recursively for C(*.json), hidden entries skipped, symbolic links to directories
        not followed) or single files holding CSAF documents.
      - Relative paths are resolved against the playbook directory.
      - JSON files without a top-level C(document) object, such as NVIDIA's C(CVE-*.json) records or a
        C(provider-metadata.json), are skipped and counted in RV(documents.skipped).
    type: list
    elements: path
    required: true
  components:
    description:
      - Installed components of the host to check.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description:
          - Component name from the collection's vocabulary.
        type: str
        required: true
        choices:
          - nvidia_driver
          - nvidia_container_toolkit
          - nvidia_gpu_operator
          - nvidia_fabric_manager
          - nvidia_dcgm
          - cuda_toolkit
          - nvidia_vbios
          - firmware
          - triton_inference_server
          - tensorrt
          - tensorrt_llm
          - nemo_framework
          - dynamo
          - dcgm_exporter
          - k8s_device_plugin
          - mig_manager
      version:
        description:
          - Installed version, dot-separated integers such as C(535.183.01) or C(1.17.8); a leading C(v) is
            dropped; a pre-release suffix is kept (C(1.3.0rc17); C(1.17.0-rc.1) becomes C(1.17.0rc1)). Quote it in
            YAML so that C(1.10) does not become the number C(1.1).
        type: str
        required: true
      family:
        description:
          - For O(components[].name=nvidia_driver) (required) the driver family, one of C(datacenter) (NVIDIA
            data-centre GPUs, "Tesla" in the advisories), C(geforce), C(rtx) (NVIDIA RTX, Quadro, NVS),
            C(vgpu_host) (Virtual GPU Manager) or C(vgpu_guest) (vGPU guest driver). Fixes differ between
            families (R570 - C(570.86.15) for data centre, C(570.86.16) for GeForce and RTX).
          - For O(components[].name=firmware) and O(components[].name=nvidia_vbios) (required) the hardware as the
            advisories name it, for example C(Hopper HGX 8-GPU); compared case-insensitively with punctuation
            ignored.
          - Not allowed for other components.
        type: str
      branch:
        description:
          - Driver branch such as C(R535), for O(components[].name=nvidia_driver) and
            O(components[].name=nvidia_fabric_manager) only. It is derived from the version when omitted and
            must agree with it when given.
        type: str
  validate:
    description:
      - Validate every document (CSAF 2.0 mandatory tests and, with O(schema), the official JSON schema) and
        reject invalid ones, listed with the reasons in RV(documents.rejected).
      - Turning this off speeds up large mirrors that were already validated when they were downloaded.
    type: bool
    default: true
  schema:
    description:
      - Include the CSAF 2.0 JSON schema in the validation. Needs the Python packages C(jsonschema) and
        C(referencing) on the controller. Has no effect when O(validate=false).
    type: bool
    default: true
  strict:
    description:
      - Reject documents with known publisher defects (a date-only value where the schema requires a
        C(date-time), as in NVIDIA 2026/5817 and 5865) instead of accepting them with a warning. Rejected documents
        make the components they name C(undecided).
    type: bool
    default: false
  vendor_adapters:
    description:
      - Vendor adapters to use for documents of that vendor. An empty list reads every document through the
        generic path only.
    type: list
    elements: str
    choices:
      - nvidia
    default:
      - nvidia
  platforms:
    description:
      - Operating systems of advisory entries to consider (the OS part of NVIDIA's C(Linux(R535)) architecture
        branches). Entries without an operating system always count. C(vmware), C(citrix) and C(nutanix) are
        hypervisors hosting the vGPU Manager.
    type: list
    elements: str
    choices:
      - linux
      - vmware
      - citrix
      - nutanix
    default:
      - linux
notes:
  - The documents are read and parsed again for every host the task runs for. For 200 NVIDIA-style documents
    matching takes about 0.1 s, 0.2 s with the mandatory tests (O(schema=false)) and about 1.3 s with the JSON
    schema as well (one CPU core); for NVIDIA's whole corpus (181 documents, August 2026) about 0.03 s, 0.05 s
    and 1.0 s. A mirror that M(aisec.gpu_host.csaf_sync) already validated can use O(validate=false).
  - Findings are a report; use the RV(summary) to decide patches (see the C(patching) role).
  - "Qualified NVIDIA ranges such as C(All versions up to and including 1.17.7 (CDI mode only for versions
    prior to 1.17.5)) produce findings with RV(findings[].uncertain=true) where the condition applies."
seealso:
  - module: aisec.gpu_host.gpu_facts
  - module: aisec.gpu_host.csaf_sync
  - name: CSAF 2.0 specification
    description: OASIS Common Security Advisory Framework Version 2.0.
    link: https://docs.oasis-open.org/csaf/csaf/v2.0/csaf-v2.0.html
  - name: NVIDIA product security
    description: NVIDIA PSIRT bulletins, also published as CSAF.
    link: https://github.com/NVIDIA/product-security
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  action:
    support: full
  async:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: full
    details: The module only reads files on the controller; check mode returns the same report.
  diff_mode:
    support: none
  platform:
    platforms: posix
    details: Runs on the controller; the managed host is not contacted.
"""

EXAMPLES = r"""
- name: Match the GPU stack of this host against the NVIDIA advisories
  aisec.gpu_host.csaf_match:
    documents: /srv/csaf/nvidia
    components:
      - name: nvidia_driver
        family: datacenter
        version: "535.161.08"
      - name: nvidia_container_toolkit
        version: "1.16.1"
  register: csaf

- name: Show the version each component needs
  ansible.builtin.debug:
    msg: "{{ item.key }}: {{ item.value.installed_version }} -> {{ item.value.required_version }}"
  loop: "{{ csaf.summary | dict2items }}"
  when: item.value.status == 'affected'

- name: Gather the GPU inventory of the host
  aisec.gpu_host.gpu_facts:

- name: Match it against a mirror written by csaf_sync (already validated there, so skip the schema)
  aisec.gpu_host.csaf_match:
    documents:
      - "{{ playbook_dir }}/csaf-mirror"
    schema: false
    components: "{{ ansible_facts.aisec_gpu.components }}"
  register: csaf

- name: Stop when a component is undecided (an advisory about it could not be read, compared or verified)
  ansible.builtin.assert:
    that: csaf.summary | dict2items | selectattr('value.undecided') | list | length == 0
    fail_msg: "{{ csaf.summary | dict2items | selectattr('value.undecided') | map(attribute='value.undecided_reasons')
      | flatten }}"

- name: Stop when a component has a finding without a fix on its branch (or needs a branch change)
  ansible.builtin.assert:
    that: csaf.summary | dict2items | selectattr('value.unfixed') | list | length == 0
    fail_msg: "{{ csaf.summary | dict2items | selectattr('value.unfixed') | map(attribute='key') | list }}"

- name: Pass only when every component is verified as not affected
  ansible.builtin.assert:
    that: csaf.summary | dict2items | rejectattr('value.status', 'in', ['not_affected', 'not_covered']) | list
      | length == 0
    fail_msg: "{{ csaf.msg }}"

# Ad hoc:
# ansible localhost -m aisec.gpu_host.csaf_match \
#   -a '{"documents": ["/srv/csaf/nvidia"], "components": [{"name": "nvidia_container_toolkit", "version": "1.17.7"}]}'
"""

RETURN = r"""
msg:
  description: One-line summary.
  returned: always
  type: str
  sample: "9 finding(s) for 3 component(s) from 180 CSAF document(s); affected: nvidia_container_toolkit,
    nvidia_driver:datacenter; UNDECIDED (not verified as not affected): nemo_framework: 5641: nemo_framework 2.1.0
    is a package version; the advisory gives only container versions (25.02) ..."
findings:
  description:
    - One entry per advisory affecting a component (several CVEs of one advisory are one finding).
    - Sorted by component, then advisory id.
  returned: always
  type: list
  elements: dict
  contains:
    tracking_id:
      description: The advisory's C(/document/tracking/id) (NVIDIA bulletin number).
      type: str
      sample: "5551"
    document_version:
      description: The advisory's C(/document/tracking/version).
      type: str
      sample: "1.0.0"
    title:
      description: The advisory title.
      type: str
    publisher:
      description: The publisher name.
      type: str
      sample: NVIDIA Product Security
    source:
      description: The file the advisory was read from.
      type: str
    url:
      description: The advisory's C(self) reference, else for NVIDIA the bulletin page, else its first reference.
      type: str
      sample: https://nvidia.custhelp.com/app/answers/detail/a_id/5551
    cves:
      description: CVE ids of the vulnerabilities of this advisory that affect the component.
      type: list
      elements: str
      sample: ["CVE-2024-0090", "CVE-2024-0092"]
    component:
      description: Component name.
      type: str
      sample: nvidia_driver
    component_key:
      description: Key of the component in RV(summary).
      type: str
      sample: "nvidia_driver:datacenter"
    family:
      description: Component family (driver family or hardware), if any.
      type: str
      sample: datacenter
    branch:
      description: Driver branch of the installed version, if the component has branches.
      type: str
      sample: R535
    installed_version:
      description: The installed version checked.
      type: str
      sample: "535.161.08"
    fixed_version:
      description:
        - First version on the same branch (and for the same family) that fixes every vulnerability of this advisory
          affecting the component that has a fix; C(null) when the advisory lists no fix for it.
      type: str
      sample: "535.183.01"
    fixed_release:
      description: NVIDIA vGPU software release of RV(findings[].fixed_version), if the advisory names one.
      type: str
      sample: "16.6"
    recommended_version:
      description: Version from the advisory's C(recommended) status, if any.
      type: str
    unfixed_cves:
      description: Affecting vulnerabilities without a fix on the branch.
      type: list
      elements: str
    branch_change_required:
      description:
        - True when the installed driver branch is not listed by this NVIDIA bulletin although it lists a newer one
          (NVIDIA - earlier branches not listed might also be affected). RV(findings[].fixed_version) is then
          C(null).
      type: bool
    branch_change_version:
      description: Lowest fixed version of this bulletin on a newer listed branch.
      type: str
      sample: "570.195.03"
    branch_fixes:
      description: Fixed version per newer listed branch (C(null) where a listed vulnerability has no fix there).
      type: dict
      sample: {R570: "570.195.03", R580: "580.95.05"}
    severity:
      description: Severity of the highest base score among the newest CVSS version present, else the advisory's
        aggregate severity.
      type: str
      sample: HIGH
    base_score:
      description: That highest CVSS base score.
      type: float
      sample: 7.8
    cvss_version:
      description: CVSS version of RV(findings[].base_score).
      type: str
      sample: "3.1"
    restart_required:
      description: Most disruptive C(restart_required) category of the matching C(vendor_fix) remediations
        (C(machine), C(service), ...); C(null) when the advisory does not say (NVIDIA never does).
      type: str
    remediations:
      description: Remediations of the advisory that name the affected or fixing products.
      type: list
      elements: dict
      contains:
        category:
          description: CSAF remediation category (C(vendor_fix), C(mitigation), C(workaround), C(none_available),
            C(no_fix_planned)).
          type: str
        details:
          description: The remediation text.
          type: str
        url:
          description: The remediation URL, if any.
          type: str
        restart_required:
          description: Its C(restart_required) category, if any.
          type: str
    uncertain:
      description:
        - True when the match depends on something the advisory leaves open - a configuration qualifier
          (C(CDI mode only ...)), a range read from the discouraged vls form or contradicting statements.
          RV(findings[].notes) says which.
      type: bool
    notes:
      description: Explanations of RV(findings[].uncertain) and vGPU release notes.
      type: list
      elements: str
    affected_products:
      description: The advisory products that matched, with their original text and the range read from it.
      type: list
      elements: dict
      contains:
        product_id:
          description: CSAF product id.
          type: str
        text:
          description: The condition as the advisory writes it.
          type: str
          sample: All driver versions prior to 535.183.01
        range:
          description: The condition as a vers range.
          type: str
          sample: vers:intdot/>=535|<535.183.01
summary:
  description:
    - Per component, keyed by the component name, or C(name:family) for components with a family
      (C(nvidia_driver:datacenter), C(firmware:hopper_hgx_8_gpu)).
  returned: always
  type: dict
  contains:
    name:
      description: Component name.
      type: str
    family:
      description: Family, if any.
      type: str
    installed_version:
      description: Installed version.
      type: str
    branch:
      description: Driver branch (C(R535)), if the component has branches.
      type: str
    status:
      description:
        - C(affected) (at least one finding), C(undecided) (no finding, but an advisory about the component could
          not be read, compared or verified - see RV(summary.undecided_reasons); never treat it as not affected),
          C(under_investigation), C(no_statement) (advisories mention the component but none says anything about
          this family/branch/version), C(not_affected) (at least one advisory covers the version, none affects it
          and none is undecided) or C(not_covered) (no loaded advisory mentions the component).
        - An C(affected) component can be undecided as well; check RV(summary.undecided).
      type: str
      sample: affected
    required_version:
      description:
        - Smallest version on the installed branch that fixes every finding that has a fix (the patch target);
          C(null) without fixable findings. Never on another branch.
      type: str
      sample: "535.309.01"
    finding_count:
      description: Number of findings.
      type: int
    findings:
      description: Tracking ids of the findings.
      type: list
      elements: str
    unfixed:
      description: Tracking ids of findings with no fix (or not for every CVE) on the installed branch.
      type: list
      elements: str
    branch_change_required:
      description: True when a finding needs a change to a newer driver branch (see RV(findings[].branch_change_required)).
      type: bool
    branch_change:
      description: Tracking ids of the findings that need a branch change.
      type: list
      elements: str
    branch_change_version:
      description:
        - Lowest version on a newer branch that every NVIDIA bulletin naming the driver family accepts (a bulletin
          that lists a newer branch but not this one rules it out); C(null) when none does. The patch target when
          you move branches.
      type: str
      sample: "580.159.03"
    undecided:
      description:
        - Tracking ids (or files) of advisories naming the component that could not be read, compared or verified.
          Non-empty makes RV(summary.status) C(undecided) unless it is C(affected).
      type: list
      elements: str
    undecided_reasons:
      description: Why, one line per problem, prefixed with the tracking id.
      type: list
      elements: str
      sample: ["5641: nemo_framework 2.1.0 is a package version; the advisory gives only container versions (25.02)"]
    not_understood:
      description: The RV(not_understood) entries of this component (family and branch taken into account).
      type: list
      elements: dict
    rejected:
      description: Documents that could not be used and name this component (C(source), C(tracking_id), C(reasons)).
      type: list
      elements: dict
    no_statement:
      description:
        - Tracking ids of advisories that mention the component but make no statement for the installed
          family/branch/version (for example a data-centre R555 driver against a bulletin listing R555 only for
          GeForce). Not a finding, and not "safe" either.
      type: list
      elements: str
    under_investigation:
      description: Tracking ids of advisories listing the version as under investigation.
      type: list
      elements: str
    not_affected:
      description: Tracking ids of advisories whose fixed or not-affected statements cover the version.
      type: list
      elements: str
    uncertain:
      description: True when any finding of the component is uncertain.
      type: bool
outside_vocabulary:
  description:
    - Products of loaded advisories outside the component vocabulary (Jetson, BlueField, DGX, Cloud Gaming ...),
      counted, not listed in RV(not_understood).
  returned: always
  type: dict
  contains:
    products:
      description: Number of such products (each status entry counted).
      type: int
    documents:
      description: Number of advisories with such products.
      type: int
    labels:
      description: Count per product label.
      type: dict
not_understood:
  description:
    - Products of loaded advisories about a component of the vocabulary that could not be read (free text outside
      the whitelist, a version outside the architecture's branch, an unusable range), plus undefined product ids
      and versions that cannot be compared. They are never used for a decision; each one makes the components it
      concerns C(undecided) (RV(summary.not_understood)).
  returned: always
  type: list
  elements: dict
  contains:
    document:
      description: Tracking id of the advisory.
      type: str
    source:
      description: File the advisory was read from.
      type: str
    product_id:
      description: CSAF product id.
      type: str
    text:
      description: The product name (NVIDIA - the condition text).
      type: str
      sample: GB300 0.8 dev drop
    reason:
      description: Why it was not understood.
      type: str
    component:
      description: Component the product seems to belong to, when known.
      type: str
    category:
      description:
        - C(condition) (version text outside the whitelist or outside the branch), C(architecture) (OS/branch
          text), C(product) (an NVIDIA product outside the component vocabulary, such as Jetson or DGX firmware;
          usually irrelevant for a GPU inference host), C(reference) (an undefined product id) or C(comparison)
          (the installed version cannot be compared with the advisory's range).
          Products outside the vocabulary are counted in RV(outside_vocabulary) instead.
      type: str
      sample: condition
documents:
  description: Bookkeeping of the files read.
  returned: always
  type: dict
  contains:
    files:
      description: Number of C(*.json) files found.
      type: int
    loaded:
      description: Number of advisories used.
      type: int
    skipped:
      description: JSON files that are not CSAF documents.
      type: int
    rejected:
      description:
        - Files not used, with the reasons (invalid JSON, too large, schema or mandatory-test errors, drafts), and the
          documents M(aisec.gpu_host.csaf_sync) rejected, read from the C(index.json) of a mirror given in
          O(documents). Each is reported in RV(summary.rejected) of every component it names.
      type: list
      elements: dict
      contains:
        source:
          description: The file.
          type: str
        tracking_id:
          description: Its tracking id, when readable.
          type: str
        reasons:
          description: Why it was rejected.
          type: list
          elements: str
        components:
          description: Components it names; C(null) when unknown (then every component is undecided).
          type: list
          elements: str
    superseded:
      description: Older revisions of an advisory that were ignored in favour of a newer one.
      type: list
      elements: dict
      contains:
        source:
          description: The ignored file.
          type: str
        tracking_id:
          description: Tracking id.
          type: str
        version:
          description: Its tracking version.
          type: str
        superseded_by:
          description: The file used instead.
          type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.aisec.gpu_host.plugins.module_utils.csaf_match import ARGUMENT_SPEC


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    module.fail_json(msg="aisec.gpu_host.csaf_match runs as an action plugin on the controller; "
                         "it cannot be executed as a module on a managed host")


if __name__ == "__main__":
    main()
