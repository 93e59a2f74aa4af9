"""A robot file as an MjSpec: an MJCF as it is, a URDF compiled by MuJoCo with what it lacks added.

MuJoCo reads URDF itself. Before handing it over, the visual elements are dropped (MuJoCo would
discard them; their meshes may be formats it cannot read), mesh paths are made absolute against the
URDF's folder (`robot_file.urdf_mesh`), and fixed links are kept (`fusestatic="false"`) so a recipe can
name any link as its end effector. A URDF has no actuators: each actuated joint gets a position
actuator (the recipe's gains are set on it with the others'), its force bounded by the URDF's `effort`
(MuJoCo's joint `actuatorfrcrange`), and every other one-dof joint is held where the episode starts it
by a joint equality. The actuators' damping is integrated implicitly (`implicitfast`, as the MJCF Panda
asks): with MuJoCo's default Euler, kd = 450 on the Genesis URDF Panda's links chattered against their
force limits and a reach ended 6 cm from its point with the arm still moving.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import mujoco

from factory.recipe.robot_file import urdf_mesh
from factory.recipe.robots import Robot

HOLD = "hold_"  # the prefix of a held joint's equality: `hold_panda_finger_joint1`


def robot_spec(robot: Robot) -> mujoco.MjSpec:
    path = robot.path()
    if path.suffix.lower() != ".urdf":
        return mujoco.MjSpec.from_file(str(path))
    root = ET.parse(path).getroot()
    for link in root.iter("link"):
        for visual in link.findall("visual"):
            link.remove(visual)
    for mesh in root.iter("mesh"):
        mesh.set("filename", str(urdf_mesh(path.resolve(), mesh.get("filename", "")).resolve()))
    extension = ET.SubElement(root, "mujoco")
    ET.SubElement(extension, "compiler", strippath="false", fusestatic="false", discardvisual="true")
    spec = mujoco.MjSpec.from_string(ET.tostring(root, encoding="unicode"))
    spec.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    one_dof = (mujoco.mjtJoint.mjJNT_HINGE, mujoco.mjtJoint.mjJNT_SLIDE)
    for joint in spec.joints:
        if joint.type not in one_dof:
            continue
        if joint.name in robot.actuated:
            spec.add_actuator(name=joint.name, target=joint.name, trntype=mujoco.mjtTrn.mjTRN_JOINT,
                              biastype=mujoco.mjtBias.mjBIAS_AFFINE)
        else:
            spec.add_equality(name=f"{HOLD}{joint.name}", type=mujoco.mjtEq.mjEQ_JOINT, name1=joint.name,
                              objtype=mujoco.mjtObj.mjOBJ_JOINT)
    return spec
