#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Check one `qvk bench --json` document (suite_bench runs this).

    bench_json_check.py SCHEMA JSON [--csv CSV] [--power W]

Validates JSON against SCHEMA (tools/bench.schema.json) with
python3-jsonschema, proves the validator is live by feeding it a broken
copy, and checks what the schema cannot: the CSV has one row per sample,
and with --power W (a constant-power test source) every energy figure
agrees with W within its own error bound, idle power included. Without
--power, energy must be unavailable, with a reason, and null.
Prints what it checked; exit status 1 on a failure, 2 when
python3-jsonschema is missing (make deps installs it).
"""
import copy
import csv
import json
import sys

try:
    import jsonschema
except ImportError:
    print("bench_json_check: python3-jsonschema is missing "
          "(apt-get install python3-jsonschema; make deps installs it)")
    sys.exit(2)

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)


def main(argv):
    args = {"--csv": None, "--power": None}
    pos = []
    i = 1
    while i < len(argv):
        if argv[i] in args and i + 1 < len(argv):
            args[argv[i]] = argv[i + 1]
            i += 2
        else:
            pos.append(argv[i])
            i += 1
    if len(pos) != 2:
        print(__doc__)
        return 1
    schema = json.load(open(pos[0]))
    doc = json.load(open(pos[1]))
    jsonschema.Draft7Validator.check_schema(schema)
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
    for e in errors[:10]:
        failures.append("schema: %s at %s" % (e.message[:200],
                                              "/".join(map(str, e.path))))
    # The validator must see a broken document as broken.
    broken = copy.deepcopy(doc)
    broken["results"][0]["decode_tok_s"] = "fast"
    check(not validator.is_valid(broken), "the validator accepted a broken copy")

    samples = [s for r in doc["results"] for s in r["samples"]]
    times = [s for s in samples if s["kind"] == "time"]
    energy = [s for s in samples if s["kind"] == "energy"]
    print("bench_json_check: %d results, %d time samples, %d energy samples"
          % (len(doc["results"]), len(times), len(energy)))
    for r in doc["results"]:
        check(r["skipped"] is None, "%s %s skipped: %s" % (r["model"], r["format"],
                                                            r["skipped"]))
        for phase in ("prefill", "decode"):
            st = r[phase + "_tok_s"]
            ph = [s for s in r["samples"]
                  if s["kind"] == "time" and s["phase"] == phase]
            check(st is not None and st["n"] == len(ph),
                  "%s: %d runs but n = %s" % (phase, len(ph), st and st["n"]))
            if st:
                check(st["min"] <= st["median"] <= st["max"],
                      "%s tok/s: median outside [min, max]" % phase)
                check(abs(min(s["tok_s"] for s in ph) - st["min"]) <= 1e-6 * st["min"],
                      "%s tok/s: min is not the smallest sample" % phase)
        frac = r["roofline_frac"]
        check(frac is not None and 0 < frac["decode"] and 0 < frac["prefill"],
              "roofline fractions missing: %s" % frac)

    if args["--csv"]:
        rows = list(csv.DictReader(open(args["--csv"])))
        check(len([x for x in rows if x["kind"] == "time"]) == len(times),
              "CSV time rows %d != JSON %d" %
              (len([x for x in rows if x["kind"] == "time"]), len(times)))
        check(len([x for x in rows if x["kind"] == "energy"]) == len(energy),
              "CSV energy rows != JSON")
        check(all(len(x) == 20 for x in rows), "CSV rows of unequal width")

    tel = doc["machine"]["telemetry"]
    if args["--power"] is None:
        check(isinstance(tel["unavailable"], str) and tel["unavailable"],
              "energy unavailable without a reason")
        for r in doc["results"]:
            check(r["decode_j_per_tok"] is None and r["prefill_j_per_tok"] is None
                  and r["idle_w"] is None and r["energy_unavailable"],
                  "energy fields not null without a source")
        check(not energy, "energy samples without a source")
    else:
        # The test's meter (other sources of the machine may be there too).
        watts = float(args["--power"])
        meters = [d for d in tel["domains"] if d["name"].startswith("power_meter")]
        check(tel["unavailable"] is None and len(meters) == 1,
              "telemetry: %s" % tel)
        name = meters[0]["name"] if meters else None
        idle = meters[0]["idle"] if meters else None
        check(idle is not None and abs(idle["w"] - watts) <= idle["error_w"] + 1e-9,
              "idle %s, expected %g W" % (idle, watts))
        energy = [s for s in energy if s["domain"] == name]
        check(len(energy) == 2 * sum(r["reps"] for r in doc["results"]),
              "one energy window per phase and repetition")
        for s in energy:
            what = "%s rep %d" % (s["phase"], s["rep"])
            check(s["valid"], "%s invalid: %s" % (what, s["note"]))
            if not s["valid"]:
                continue
            check(not s["short_window"] and s["seconds"] >= s["target_s"],
                  "%s: window %.3f s < %.3f s" % (what, s["seconds"], s["target_s"]))
            check(abs(s["avg_w"] - watts) <= 1e-6 * watts,
                  "%s: %.9f W, expected %g" % (what, s["avg_w"], watts))
            joules = s["j_per_tok"] * s["tokens"]
            check(abs(joules - watts * s["seconds"]) <= s["error_j_per_tok"] * s["tokens"] + 1e-9,
                  "%s: %.6f J in %.6f s at %g W" % (what, joules, s["seconds"], watts))
            check(abs(s["net_j_per_tok"]) <= s["net_error_j_per_tok"] + 1e-12,
                  "%s: net %.3e J/token beyond its bound %.3e" %
                  (what, s["net_j_per_tok"], s["net_error_j_per_tok"]))
        for r in doc["results"]:
            for phase in ("prefill", "decode"):
                e = [x for x in r[phase + "_j_per_tok"] or [] if x["domain"] == name]
                check(len(e) == 1 and e[0]["valid"],
                      "%s energy summary: %s" % (phase, e))
                if e and e[0]["valid"]:
                    check(e[0]["min"] <= e[0]["median"] <= e[0]["max"],
                          "%s J/token median outside [min, max]" % phase)
                    check(abs(e[0]["avg_w"] - watts) <= 1e-6 * watts,
                          "%s average %g W" % (phase, e[0]["avg_w"]))
        print("bench_json_check: every window at %g W within its bound" % watts)

    for f in failures:
        print("bench_json_check: FAIL: " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
