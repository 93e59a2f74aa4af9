"""Plain-text views of an evaluation and a verdict, for the terminal."""

from __future__ import annotations


def render_evaluation(evaluation: dict) -> str:
    lines = []
    for set_name, r in evaluation.items():
        lines.append(f"{set_name}: {r['episodes']} episodes")
        lines.append(f"  {'predictor':<20} {'one-step nMSE':>14} {'pos RMSE m':>11} {'rollout@H m':>12}")
        for name, one in r["one_step"].items():
            lines.append(f"  {name:<20} {one['nmse']:>14.4g} {one['rmse']['pos']:>11.3g} "
                         f"{r['rollout'][name][-1]:>12.3g}")
    return "\n".join(lines)


def render_verdict(summary: dict) -> str:
    v = summary["verdict"]
    lines = [f"{summary['dataset']['name']}: verdict {'PASS' if v['passed'] else 'FAIL'} "
             f"({', '.join(a + (' ok' if ok else ' FAIL') for a, ok in v['aspects'].items())})"]
    for c in v["criteria"]:
        bound = ">=" if c["higher_is_better"] else "<="
        lines.append(f"  [{'ok' if c['passed'] else 'FAIL':>4}] {c['aspect']:<11} {c['name']:<45} "
                     f"{c['value']:.4g} {bound} {c['threshold']:.4g}")
    lines += [f"  not computed: {note}" for note in summary.get("not_computed", [])]
    if summary.get("evaluation"):
        lines.append(render_evaluation(summary["evaluation"]))
    return "\n".join(lines)
