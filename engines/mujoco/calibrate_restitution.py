"""Measure MuJoCo's restitution against `restitution.solref_for`: `python -m engines.mujoco.calibrate_restitution`.

A unit sphere hits a plane at speed v with no gravity; e = rebound / impact normal speed. Prints,
for each asked e, what came back across time steps and speeds (the table in `restitution.py`
came from the ζ sweep this prints first).
"""

from __future__ import annotations

import mujoco

from engines.mujoco.restitution import CONTACT_STEPS, ZETA, direct_solref, solref_for

XML = """<mujoco><option timestep="{dt!r}" gravity="0 0 0" cone="elliptic"/>
<worldbody><geom name="plane" type="plane" size="0 0 1" contype="0" conaffinity="0"/>
<body><freejoint/><geom name="ball" type="sphere" size="0.1" mass="1" contype="0" conaffinity="0"/></body>
</worldbody><contact><pair geom1="plane" geom2="ball" condim="3" friction="0.01 0.01"
solref="{k!r} {b!r}"/></contact></mujoco>"""


def bounce(solref: tuple[float, float], dt: float, speed: float) -> float:
    model = mujoco.MjModel.from_xml_string(XML.format(dt=float(dt), k=float(solref[0]), b=float(solref[1])))
    data = mujoco.MjData(model)
    data.qpos[2], data.qvel[2] = 0.1 + speed * dt / 2, -speed
    touched = False
    for _ in range(int(1.0 / dt)):
        mujoco.mj_step(model, data)
        touched |= data.ncon > 0
        if touched and data.ncon == 0:
            break
    return data.qvel[2] / speed


def main() -> None:
    runs = [(dt, v) for dt in (0.002, 0.004, 0.005) for v in (0.5, 3.0)]
    print(f"zeta sweep (direct solref, contact of {CONTACT_STEPS} steps): e per (dt, v) in {runs}")
    for zeta in ZETA:
        es = []
        for dt, v in runs:
            es.append(bounce(direct_solref(float(zeta), dt), dt, v))
        print(f"  zeta {zeta:4.2f}: " + " ".join(f"{e:.3f}" for e in es))
    print("asked e -> measured e")
    for asked in (0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 0.95):
        es = [bounce(solref_for(asked, dt), dt, v) for dt, v in runs]
        print(f"  {asked:4.2f}: " + " ".join(f"{e:.3f}" for e in es))


if __name__ == "__main__":
    main()
