# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Performance budget of aisec.gpu_host on the local container host (not a test: it prints one table).

On a fresh local systemd container (the Molecule image and flags of .config/molecule/config.yml, reached with the
community.docker.docker connection, as scripts/demo.sh does), with every role's input from
tests/integration/drift/vars.yml, it measures:

* fresh converge      - playbooks/site.yml on the new container;
* idempotent re-run   - site.yml again (must report changed=0);
* check run           - site.yml --check --diff on the converged host;
* audit               - playbooks/audit.yml --check --diff (the scheduled drift audit);

each as wall time and controller CPU time (user + system of ansible-playbook, its workers and the
``docker exec`` clients: getrusage of the finished children), plus the CSAF matching figures of
benchmarks/csaf_match_bench.py (parse and match of N synthetic advisories, in-process). Budget on a 2-core
machine: idempotent re-run <= 15 s and check run <= 15 s wall / <= 8 s controller CPU, all roles together.

The timed runs use the callbacks a user runs (aisec.gpu_host.compliance_report). Then, unless --no-profile,
an idempotent re-run and a check run with the ansible.posix.profile_tasks callback (not timed: the callback
costs CPU itself) list the most expensive tasks, which is where to cut (batch work into modules and templates,
fewer tasks, fewer facts).

Run from the repository root (needs docker and the test image, scripts/build-image.sh)::

    .venv/bin/python benchmarks/converge_bench.py                  # about 5 minutes
    .venv/bin/python benchmarks/converge_bench.py --playbook remediate.yml --top 20 --csaf-docs 200 10000
    .venv/bin/python benchmarks/converge_bench.py --no-compliance-report   # without the report callback

Wall times are only meaningful on an otherwise idle machine: the load average is printed before and after.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
PLAYBOOKS = os.path.join(ROOT, "playbooks")
VARS_FILE = os.path.join(ROOT, "tests", "integration", "drift", "vars.yml")
MOLECULE_BASE = os.path.join(ROOT, ".config", "molecule", "config.yml")
VENV_BIN = os.path.dirname(os.path.abspath(sys.executable))
HOST = "aisec-bench-node"
BUDGET = {"idempotent re-run": (15.0, None), "check run": (15.0, 8.0)}
RECAP_RE = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)", re.M)
PROFILE_RE = re.compile(r"^(.+?) -{3,} +([0-9.]+)s$", re.M)


def docker(*args, check=True, timeout=300):
    proc = subprocess.run(["docker"] + list(args), capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        sys.exit("docker %s failed: %s" % (" ".join(args[:3]), proc.stderr.strip()))
    return proc


def start_container(name, image):
    with open(MOLECULE_BASE, encoding="utf-8") as handle:
        platform = yaml.safe_load(handle)["platforms"][0]
    args = ["run", "-d", "--name", name, "--hostname", HOST, "--label", "aisec.gpu_host.bench=1"]
    args += ["--cap-add=%s" % cap for cap in platform.get("capabilities", [])]
    args += ["--security-opt=%s" % opt for opt in platform.get("security_opts", [])]
    args += ["--tmpfs=%s" % path for path in platform.get("tmpfs", [])]
    args += ["--volume=%s" % vol for vol in platform.get("volumes", [])]
    if platform.get("cgroupns_mode"):
        args.append("--cgroupns=%s" % platform["cgroupns_mode"])
    args += ["--sysctl=net.ipv6.conf.all.disable_ipv6=0", image] + platform.get("command", "/lib/systemd/systemd").split()
    docker(*args)
    for _attempt in range(90):
        state = docker("exec", name, "systemctl", "is-system-running", check=False).stdout.strip()
        if state in ("running", "degraded"):
            break
        time.sleep(1)
    else:
        sys.exit("systemd in %s did not come up" % name)
    docker("exec", name, "apt-get", "update", "-qq")  # a real host has package lists; not timed


def write_inventory(tmp, name):
    with open(VARS_FILE, encoding="utf-8") as handle:
        host_vars = yaml.safe_load(handle)
    host_vars.update({
        "ansible_connection": "community.docker.docker",
        "ansible_host": name,
        "ansible_python_interpreter": "/usr/bin/python3",
        "patching_csaf_source": os.path.join(ROOT, "tests", "integration", "patching", "csaf"),
        "patching_csaf_mirror": os.path.join(tmp, "csaf-mirror"),
        "patching_report_dir": os.path.join(tmp, "patching-reports"),
    })
    path = os.path.join(tmp, "inventory.yml")
    with open(path, "w", encoding="utf-8") as handle:
        yaml.safe_dump({"all": {"children": {"gpu_nodes": {"hosts": {HOST: host_vars}}}}}, handle)
    return path


def run_playbook(tmp, inventory, playbook, args, callbacks, top):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "AISEC_COMPLIANCE_"))}
    env.update({
        "ANSIBLE_CONFIG": os.path.join(ROOT, "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": os.path.join(ROOT, ".cache", "collections"),
        "ANSIBLE_CALLBACKS_ENABLED": ",".join(callbacks),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_PIPELINING": "True",
        "PROFILE_TASKS_TASK_OUTPUT_LIMIT": "all",
        "PROFILE_TASKS_SORT_ORDER": "descending",
        "AISEC_COMPLIANCE_DIR": os.path.join(tmp, "compliance-" + uuid.uuid4().hex[:6]),
        "PATH": VENV_BIN + os.pathsep + os.environ.get("PATH", ""),
    })
    cmd = [os.path.join(VENV_BIN, "ansible-playbook"), "-i", inventory, os.path.join(PLAYBOOKS, playbook)] + args
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True, timeout=1800, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    output = proc.stdout + proc.stderr
    recap = RECAP_RE.findall(output)
    counts = {"ok": 0, "changed": 0, "failed": 0, "skipped": 0}
    for _host, ok, changed, _unreach, failed, skipped in recap:
        counts["ok"] += int(ok)
        counts["changed"] += int(changed)
        counts["failed"] += int(failed)
        counts["skipped"] += int(skipped)
    profile = [(name.strip(), float(sec)) for name, sec in PROFILE_RE.findall(output)]
    return {"rc": proc.returncode, "wall": wall, "cpu": cpu, "counts": counts, "profile": profile, "output": output}


def csaf_figures(doc_counts):
    """(label, wall, cpu, detail) rows from benchmarks/csaf_match_bench.py's generator and timer."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "csaf_match_bench.py")
    spec = importlib.util.spec_from_file_location("csaf_match_bench", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rows = []
    for n in doc_counts:
        raws = bench.generate(n)
        parse_wall, parse_cpu, docs = bench.timed(lambda raws=raws: bench.parse(raws))
        rows.append(("csaf parse %d docs" % n, parse_wall, parse_cpu, "%.1f MB JSON" % (sum(map(len, raws)) / 1e6)))
        for mode in ("match", "schema"):
            opts = dict(bench.MODES[mode])
            wall, cpu, report = bench.timed(lambda docs=docs, opts=opts: bench.csaf_match.match(docs, bench.COMPONENTS, opts))
            rows.append(("csaf_match %d docs (%s)" % (n, mode), wall, cpu, "%d findings" % len(report["findings"])))
    return rows


def verdict(label, wall, cpu):
    if label not in BUDGET:
        return ""
    max_wall, max_cpu = BUDGET[label]
    ok = wall <= max_wall and (max_cpu is None or cpu <= max_cpu)
    target = "<= %.0f s" % max_wall + (" / <= %.0f s CPU" % max_cpu if max_cpu else "")
    return "%s (%s)" % ("PASS" if ok else "OVER", target)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--playbook", default="site.yml", help="playbook of playbooks/ to converge with (default site.yml)")
    parser.add_argument("--image", default=os.environ.get("AISEC_TEST_IMAGE") or "aisec-gpu-host/debian12:latest")
    parser.add_argument("--top", type=int, default=12, help="most expensive tasks to list per run (profile_tasks)")
    parser.add_argument("--csaf-docs", type=int, nargs="*", default=[200], help="CSAF document counts (none: skip)")
    parser.add_argument("--no-compliance-report", action="store_true", help="measure without the compliance_report callback")
    parser.add_argument("--no-audit", action="store_true", help="skip the audit.yml run")
    parser.add_argument("--no-profile", action="store_true",
                        help="skip the extra runs with ansible.posix.profile_tasks that list the most expensive tasks")
    parser.add_argument("--keep", action="store_true", help="keep the container (its name is printed)")
    parser.add_argument("--container", help="use this running, already converged container (kept): no fresh converge")
    parser.add_argument("--extra-vars", "-e", action="append", default=[], metavar="VARS",
                        help="extra variables for every run (e.g. ansible_become=false), to compare settings")
    args = parser.parse_args(argv)
    if shutil.which("docker") is None:
        sys.exit("docker is not installed")
    if docker("image", "inspect", args.image, check=False).returncode != 0:
        sys.exit("image %s is missing: scripts/build-image.sh" % args.image)
    callbacks = [] if args.no_compliance_report else ["aisec.gpu_host.compliance_report"]

    print("aisec.gpu_host performance budget: %s on a local container (docker connection), %d CPU(s)"
          % (args.playbook, os.cpu_count() or 0))
    print("callbacks: %s; load average before: %.2f (wall time is only meaningful on an idle machine)"
          % (", ".join(callbacks) or "none", os.getloadavg()[0]))
    name = args.container or "aisec-bench-node-" + uuid.uuid4().hex[:8]
    # Controller-side state of the runs (CSAF mirror, patching reports) lives as long as the container, so that
    # runs against a kept container (--container) are not the first ones to fill it.
    tmp = os.path.join(tempfile.gettempdir(), "aisec-bench-" + name)
    os.makedirs(tmp, exist_ok=True)
    extra_vars = [arg for value in args.extra_vars for arg in ("-e", value)]
    rows, runs = [], {}
    try:
        if not args.container:
            start_container(name, args.image)
        inventory = write_inventory(tmp, name)
        plan = [] if args.container else [("fresh converge", args.playbook, [])]
        plan += [("idempotent re-run", args.playbook, []), ("check run", args.playbook, ["--check", "--diff"])]
        if not args.no_audit:
            plan.append(("audit", "audit.yml", ["--check", "--diff"]))
        for label, playbook, extra in plan:
            result = run_playbook(tmp, inventory, playbook, extra + extra_vars, callbacks, args.top)
            runs[label] = result
            detail = "rc=%d ok=%d changed=%d failed=%d skipped=%d" % (
                result["rc"], result["counts"]["ok"], result["counts"]["changed"], result["counts"]["failed"],
                result["counts"]["skipped"])
            rows.append((label, result["wall"], result["cpu"], detail))
            if result["rc"] != 0 and label != "audit":
                print(result["output"][-4000:])
                print("%s failed (rc %d); stopping" % (label, result["rc"]))
                break
        if not args.no_profile and all(r["rc"] == 0 for r in runs.values()):
            for label, playbook, extra in plan:
                if label in ("idempotent re-run", "check run"):
                    result = run_playbook(tmp, inventory, playbook, extra + extra_vars,
                                          ["ansible.posix.profile_tasks"] + callbacks, args.top)
                    runs[label]["profile"] = result["profile"]
                    runs[label]["profile_output"] = result["output"]
        for row in csaf_figures(args.csaf_docs or []):
            rows.append(row)
    finally:
        if args.keep or args.container:
            print("container kept: %s (docker rm -f %s; rm -rf %s)" % (name, name, tmp))
        else:
            docker("rm", "-f", "-v", name, check=False)
            shutil.rmtree(tmp, ignore_errors=True)

    print()
    print("%-28s %9s %9s  %-44s %s" % ("run", "wall s", "cpu s", "result", "budget"))
    print("-" * 118)
    for label, wall, cpu, detail in rows:
        print("%-28s %9.2f %9.2f  %-44s %s" % (label, wall, cpu, detail, verdict(label, wall, cpu)))
    print("load average after: %.2f" % os.getloadavg()[0])
    for label in ("idempotent re-run", "check run"):
        if label in runs and runs[label]["profile"]:
            print("\nmost expensive tasks, %s (separate run with ansible.posix.profile_tasks):" % label)
            for task, seconds in runs[label]["profile"][: args.top]:
                print("  %6.2f s  %s" % (seconds, task))
            total = len(re.findall(r"^TASK \[", runs[label].get("profile_output", runs[label]["output"]), re.M))
            per_role = {}
            for task, seconds in runs[label]["profile"]:
                match = re.match(r"^(?:[a-z0-9_]+\.[a-z0-9_]+\.)?([a-z0-9_]+) : ", task)
                role = match.group(1) if match else "(playbook)"
                count, spent = per_role.get(role, (0, 0.0))
                per_role[role] = (count + 1, spent + seconds)
            ranked = sorted(per_role.items(), key=lambda item: -item[1][1])
            print("  per role: " + ", ".join("%s %d tasks %.1f s" % (role, count, spent) for role, (count, spent) in ranked))
            print("  (%d task headers in the run)" % total)
    return 0 if all(r["rc"] == 0 for label, r in runs.items() if label != "audit") else 1


if __name__ == "__main__":
    sys.exit(main())
