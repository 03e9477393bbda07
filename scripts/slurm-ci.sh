#!/usr/bin/env bash
# slurm-ci.sh: `dsim campaign` sharding against a REAL one-node Slurm.
#
# Brings up Slurm with ../shared/recipes/slurm-local.sh (Debian slurm-wlm +
# munge on 127.0.0.1), then submits three array jobs and checks them:
#
#   A  --array=0-3    examples/slurm/campaign.sbatch itself, on a campaign
#                     with a failing scenario, one shard per task; `dsim
#                     campaign merge` of the 4 summaries must equal the same
#                     campaign run unsharded: same runs, same failures, same
#                     seed coverage; each task's Slurm exit code must be 1
#                     exactly when its shard found failures.
#   B  --array=1-7:2  IDs 1,3,5,7: dsim must map (ID-MIN)/STEP to shards
#                     0..3 of 4, each once (merge reports no missing or
#                     duplicated shard, and again equals the unsharded run).
#   C  --array=0,2,5  a list, not a range: MIN=0, MAX=5, COUNT=3. Every task
#                     (0 and 2 too, which once ran shards 0/3 and 2/3 while
#                     shard 1/3 never ran) must exit 2 with a one-line error
#                     naming SLURM_ARRAY_TASK_MAX, and run no seed.
#   D  scancel        a long campaign, cancelled while it runs: Slurm's SIGTERM
#                     must leave a summary marked interrupted, and merge must
#                     exit 3 (incomplete) reporting the interrupted shard.
#
# Run as root from anywhere; called by .ci/run. Prints "SKIPPED: reason" and
# exits 0 only when not root or when Slurm is not installed and apt cannot
# reach its repositories. Slurm is always brought down again (trap).
# Knobs: SLURM_CI_TIMEOUT (seconds to wait for the jobs, default 120).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RECIPE=$ROOT/../shared/recipes/slurm-local.sh
TIMEOUT=${SLURM_CI_TIMEOUT:-120}

now_ms() { echo $(($(date +%s%N) / 1000000)); }
T0=$(now_ms)
log() { echo "[slurm-ci +$(($(now_ms) - T0))ms] $*"; }
skip() {
    echo "SKIPPED: $*"
    exit 0
}
die() {
    echo "slurm-ci: FAIL: $*" >&2
    exit 1
}

[[ $(id -u) == 0 ]] || skip "slurm-ci needs root to start Slurm daemons (uid $(id -u))"
[[ -f $RECIPE ]] || die "missing $RECIPE (CI keeps shared/ beside the repo)"
if ! command -v sbatch >/dev/null 2>&1 || ! command -v slurmctld >/dev/null 2>&1; then
    command -v apt-get >/dev/null 2>&1 || skip "Slurm is not installed and there is no apt-get"
    log "Slurm not installed; checking that apt can reach its repositories"
    timeout 120 apt-get update -q >/dev/null 2>&1 ||
        skip "Slurm is not installed and apt-get update failed (no network to the apt repositories?)"
fi

W=$(mktemp -d /tmp/dsim-slurm-ci.XXXXXX)
chmod 755 "$W"
export SLURM_CONF=${SLURM_LOCAL_DIR:-/tmp/slurm-local}/etc/slurm.conf

cleanup() {
    local rc=$?
    if [[ $rc != 0 ]]; then
        echo "--- slurm-ci failed (rc=$rc); task outputs and Slurm logs follow" >&2
        for f in "$W"/*/out/*.out; do
            [[ -f $f ]] && { echo "== $f"; cat "$f"; } >&2
        done
        tail -n 20 "${SLURM_LOCAL_DIR:-/tmp/slurm-local}"/log/*.log >&2 2>/dev/null || true
    fi
    bash "$RECIPE" down >/dev/null 2>&1 || echo "slurm-ci: warning: slurm-local.sh down failed" >&2
    rm -rf "$W"
    exit "$rc"
}
trap cleanup EXIT

log "building dsim"
go build -o "$W/dsim" ./cmd/dsim
DSIM=$W/dsim

log "bringing Slurm up"
bash "$RECIPE" up >"$W/up.log" 2>&1 || { cat "$W/up.log" >&2; die "slurm-local.sh up failed"; }

# submit NAME ARRAY ARGS...: an array job, each task running
#   dsim campaign ARGS --json --out NAME/failures/ID > NAME/summaries/ID.json
# with its stderr in NAME/out/ID.out and its exit status in NAME/rc/ID.
# Summaries and failure files live in different directories because merge
# reads every *.json in a directory. Prints the job id.
submit() {
    local name=$1 array=$2 q a cmd id
    shift 2
    mkdir -p "$W/$name"/{summaries,failures,out,rc}
    q=""
    for a in "$@"; do q+=" $(printf '%q' "$a")"; done
    # Single quotes: $SLURM_ARRAY_TASK_ID must expand inside the task.
    # shellcheck disable=SC2016
    cmd="cd $(printf '%q' "$W/$name") && $(printf '%q' "$DSIM") campaign$q --json"
    cmd+=' --out failures/$SLURM_ARRAY_TASK_ID > summaries/$SLURM_ARRAY_TASK_ID.json; echo $? > rc/$SLURM_ARRAY_TASK_ID'
    id=$(sbatch --parsable --array="$array" --job-name="dsim-ci-$name" \
        --output="$W/$name/out/%a.out" --wrap "$cmd")
    echo "${id%%;*}"
}

# wait_jobs ID...: poll squeue until none of the jobs is pending or running.
wait_jobs() {
    local deadline=$(($(now_ms) + TIMEOUT * 1000)) left out
    while :; do
        left=""
        for id in "$@"; do
            # A finished job drops out of squeue (or squeue says invalid id).
            out=$(squeue -h -j "$id" -o %i 2>/dev/null || true)
            [[ -n $out ]] && left+=" $id"
        done
        [[ -z $left ]] && return 0
        (($(now_ms) < deadline)) || die "jobs$left still queued after ${TIMEOUT}s: $(squeue -h -o '%i %T %r' 2>&1 | tr '\n' ';')"
        sleep 0.3
    done
}

# --files-per-checker 0 (A and B): every failure gets a file, so the shards' file names
# can be compared with the unsharded run's (the default keeps the first 10
# per (scenario, checker) in each process).
A_ARGS=('counter/*' counter/unsafe-nosync --seeds 40 --files-per-checker 0)
B_ARGS=(counter/basic counter/unsafe-nosync --seeds 12 --files-per-checker 0)
C_ARGS=(counter/basic --seeds 6)

log "submitting arrays 0-3, 1-7:2 and 0,2,5"
# A: the example batch script as a user would submit it (array and CPUs
# overridden to fit a 2-CPU node). Its layout: summaries/ID.json, failures/ID/.
mkdir -p "$W/A/out"
ln -s "$DSIM" "$W/A/dsim"
JA=$(sbatch --parsable --array=0-3 --cpus-per-task=1 --chdir="$W/A" --output="$W/A/out/%a.out" \
    "$ROOT/examples/slurm/campaign.sbatch" "${A_ARGS[@]}")
JA=${JA%%;*}
JB=$(submit B 1-7:2 "${B_ARGS[@]}")
JC=$(submit C 0,2,5 "${C_ARGS[@]}")
log "jobs $JA $JB $JC submitted; running the unsharded campaigns meanwhile"

# whole NAME ARGS...: the same campaign unsharded (--shard 0/1 overrides any
# shard variables of the environment CI itself runs in).
whole() {
    local name=$1 rc=0
    shift
    mkdir -p "$W/whole-$name"
    (cd "$W/whole-$name" && "$DSIM" campaign "$@" --shard 0/1 --json --out fail \
        >summary.json 2>stderr.txt) || rc=$?
    [[ $rc == 0 || $rc == 1 ]] || die "unsharded campaign $name exited $rc: $(cat "$W/whole-$name/stderr.txt")"
}
whole A "${A_ARGS[@]}"
whole B "${B_ARGS[@]}"

wait_jobs "$JA" "$JB" "$JC"
# A's exit codes from the scheduler (finished jobs stay MinJobAge=60 s):
# one "ARRAYTASKID EXITCODE" line per task into A/rc/ID.
mkdir -p "$W/A/rc"
scontrol -o show job "$JA" | tr ' ' '\n' | awk -F= -v d="$W/A/rc" '
    $1 == "ArrayTaskId" { t = $2 } $1 == "ExitCode" { split($2, e, ":"); print e[1] > (d "/" t) }'
log "all array tasks done; D: cancelling a running campaign"

# D: a campaign far too long to finish, cancelled as a user or a time limit
# would. exec: dsim itself is the batch step's process and gets the SIGTERM.
mkdir -p "$W/D"/{summaries,out}
JD=$(sbatch --parsable --job-name=dsim-ci-D --output="$W/D/out/0.out" --wrap \
    "cd $(printf '%q' "$W/D") && exec $(printf '%q' "$DSIM") campaign counter/basic --seeds 1000000000 --workers 1 --shard 0/1 --json >summaries/0.json")
JD=${JD%%;*}
deadline=$(($(now_ms) + TIMEOUT * 1000))
until [[ $(squeue -h -j "$JD" -o %T 2>/dev/null) == RUNNING ]]; do
    (($(now_ms) < deadline)) || die "job $JD never started: $(squeue -h -o '%i %T %r' 2>&1 | tr '\n' ';')"
    sleep 0.2
done
sleep 1
scancel "$JD"
wait_jobs "$JD"
rc=0
"$DSIM" campaign merge "$W/D/summaries" >"$W/D/merged.txt" 2>"$W/D/merge.err" || rc=$?
echo "$rc" >"$W/D/merge.rc"
log "merging and comparing"

for name in A B; do
    rc=0
    "$DSIM" campaign merge --json --junit "$W/$name/junit.xml" "$W/$name/summaries" >"$W/$name/merged.json" 2>"$W/$name/merge.err" || rc=$?
    echo "$rc" >"$W/$name/merge.rc"
done

python3 - "$W" <<'EOF'
import json, os, sys

W = sys.argv[1]
errors = []

def err(msg):
    errors.append(msg)

def load(path):
    with open(path) as f:
        return json.load(f)

def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError as e:
        return "<missing: %s>" % e

def fkey(f):
    # The file path differs (shard dirs vs one dir), its base name must not.
    return (f["scenario"], f.get("variant", ""), f["seed"], f["checker"], f["message"],
            f.get("event"), f.get("vtime_ns"), os.path.basename(f.get("file", "")))

def skey(r):
    return (r["scenario"], r.get("variant", ""), r["from"], r.get("seeds"),
            r["shard"]["index"], r["shard"]["count"], r["runs"], tuple(r.get("shards") or ()))

def check_array(name, ids, want_index):
    d = os.path.join(W, name)
    for i in ids:
        rc = read(os.path.join(d, "rc", str(i))).strip()
        out = read(os.path.join(d, "out", "%d.out" % i))
        want = "dsim campaign: shard %d/%d from SLURM_ARRAY_TASK_ID" % (want_index[i], len(ids))
        if want not in out:
            err("%s task %d: stderr lacks %r: %r" % (name, i, want, out[:300]))
        try:
            s = load(os.path.join(d, "summaries", "%d.json" % i))
        except Exception as e:
            err("%s task %d: no summary (rc %s): %s; output: %r" % (name, i, rc, e, out[:300]))
            continue
        want_rc = "1" if s["failures"] else "0"
        if rc != want_rc:
            err("%s task %d: exit %s, want %s (%d failures)" % (name, i, rc, want_rc, len(s["failures"])))
        for r in s["seeds"]:
            if r["shard"] != {"index": want_index[i], "count": len(ids)}:
                err("%s task %d: %s ran shard %s, want %d/%d" % (name, i, r["scenario"], r["shard"], want_index[i], len(ids)))

def compare(name):
    d = os.path.join(W, name)
    whole = load(os.path.join(W, "whole-" + name, "summary.json"))
    merge_rc = read(os.path.join(d, "merge.rc")).strip()
    try:
        merged = load(os.path.join(d, "merged.json"))
    except Exception as e:
        err("%s: merge gave no JSON (rc %s): %s %s" % (name, merge_rc, e, read(os.path.join(d, "merge.err"))))
        return
    want_rc = "1" if merged["failures"] else "0"
    if merge_rc != want_rc:
        err("%s: merge exited %s, want %s: %s" % (name, merge_rc, want_rc, read(os.path.join(d, "merge.err"))))
    if merged.get("problems"):
        err("%s: merge reports problems: %s" % (name, merged["problems"]))
    for k in ("runs", "passed", "events", "vtime_ns", "interrupted"):
        if merged[k] != whole[k]:
            err("%s: %s: merged %r, unsharded %r" % (name, k, merged[k], whole[k]))
    mf = sorted(map(fkey, merged["failures"]))
    wf = sorted(map(fkey, whole["failures"]))
    if mf != wf:
        err("%s: failures differ: only merged %s; only unsharded %s" % (name, sorted(set(mf) - set(wf))[:5], sorted(set(wf) - set(mf))[:5]))
    ms = sorted(map(skey, merged["seeds"]))
    ws = sorted(map(skey, whole["seeds"]))
    if ms != ws:
        err("%s: seed coverage differs:\n  merged    %s\n  unsharded %s" % (name, ms, ws))
    if merged.get("coverage") != whole.get("coverage"):
        err("%s: coverage facts differ" % name)
    # Failure groups: the same causes, counts and first seeds as unsharded,
    # and one failing JUnit testcase per group.
    gkey = lambda g: (g["id"], g["count"], g["first"]["seed"])
    mg, wg = sorted(map(gkey, merged.get("groups") or [])), sorted(map(gkey, whole.get("groups") or []))
    if mg != wg:
        err("%s: failure groups differ:\n  merged    %s\n  unsharded %s" % (name, mg, wg))
    try:
        import xml.etree.ElementTree as ET
        root = ET.parse(os.path.join(d, "junit.xml")).getroot()
        nfail = len(root.findall("./testsuite/testcase/failure"))
        if root.tag != "testsuites" or nfail != len(mg) or int(root.get("failures")) != len(mg):
            err("%s: junit.xml has %s failing testcases (declares %s), want one per group: %d" % (name, nfail, root.get("failures"), len(mg)))
    except Exception as e:
        err("%s: junit.xml: %s" % (name, e))
    if not whole["failures"]:
        err("%s: the unsharded run has no failures, so 'same failures' proves nothing" % name)
    return "%s: merged == unsharded: %d runs, %d failures, %d seed ranges, %d failure groups (one JUnit failure each)" % (name, merged["runs"], len(mf), len(ms), len(mg))

check_array("A", [0, 1, 2, 3], {0: 0, 1: 1, 2: 2, 3: 3})
check_array("B", [1, 3, 5, 7], {1: 0, 3: 1, 5: 2, 7: 3})
okA = compare("A")
okB = compare("B")

# C: --array=0,2,5 is a list: every task must refuse it.
lines = {}
for i in (0, 2, 5):
    rc = read(os.path.join(W, "C", "rc", str(i))).strip()
    out = read(os.path.join(W, "C", "out", "%d.out" % i))
    ls = [l for l in out.splitlines() if l.strip()]
    if rc != "2":
        err("C task %d: exit %s, want 2; output %r" % (i, rc, out[:300]))
    if len(ls) != 1 or "SLURM_ARRAY_TASK_MAX" not in ls[0]:
        err("C task %d: want one error line naming SLURM_ARRAY_TASK_MAX, got %r" % (i, out[:300]))
    if read(os.path.join(W, "C", "summaries", "%d.json" % i)).strip():
        err("C task %d: wrote a summary, so it ran seeds" % i)
    lines[i] = ls[0] if ls else ""

# D: cancelled by scancel (SIGTERM): the summary so far, marked interrupted.
try:
    d = load(os.path.join(W, "D", "summaries", "0.json"))
    if not d["interrupted"] or d["runs"] == 0:
        err("D: summary after scancel: interrupted=%s runs=%s" % (d["interrupted"], d["runs"]))
    okD = "D: scancel -> summary of %d runs marked interrupted" % d["runs"]
except Exception as e:
    err("D: no summary after scancel: %s; output %r" % (e, read(os.path.join(W, "D", "out", "0.out"))[:300]))
mrc = read(os.path.join(W, "D", "merge.rc")).strip()
mtxt = read(os.path.join(W, "D", "merged.txt"))
if mrc != "3" or "interrupted" not in mtxt:
    err("D: merge of the cancelled shard exited %s, want 3 reporting it interrupted: %r %r" % (mrc, mtxt[-300:], read(os.path.join(W, "D", "merge.err"))))

if errors:
    for e in errors:
        print("slurm-ci: FAIL:", e, file=sys.stderr)
    sys.exit(1)
print(okA)
print(okB)
print("B: --array=1-7:2 mapped IDs 1,3,5,7 to shards 0..3 of 4, each once")
print(okD + "; merge exited 3 (incomplete)")
print("C: --array=0,2,5: tasks 0, 2 and 5 all exited 2 without running a seed: %s" % lines[0])
EOF

log "PASS"
