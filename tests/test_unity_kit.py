"""The C# kit compiles against stubs of UnityEngine, UnityEditor and com.unity.ml-agents 2.x, and a
kit that misuses that API does not. Needs Mono's `mcs`: skipped without it on a workstation,
failed without it in CI (CI=true), where `.ci/run` installs it."""

from __future__ import annotations

import os
import re
import shutil
import uuid
from pathlib import Path

import pytest

from engines.unity import protocol
from engines.unity.kit_compile import INSTALL_HINT, KIT, build_kit, build_stubs, mcs

pytestmark = pytest.mark.unity


@pytest.fixture(scope="module")
def stubs(tmp_path_factory) -> Path:
    if mcs() is None:
        message = f"mcs (Mono C# compiler) not found; install it with: {INSTALL_HINT}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    out = tmp_path_factory.mktemp("unity_stubs")
    result = build_stubs(out)
    assert result.ok, f"the stubs do not compile ({result.assembly}):\n{result.output}"
    return out


def test_kit_compiles_against_unity_and_mlagents_stubs(stubs, tmp_path):
    result = build_kit(KIT, stubs, tmp_path)
    assert result.ok, f"{result.assembly} does not compile:\n{result.output}"
    assert (tmp_path / "PhysicsFactory.Kit.dll").exists() and (tmp_path / "PhysicsFactory.Kit.Editor.dll").exists()


# (file, what the kit says, a plausible mistake, the compiler error it must raise)
MISTAKES = {
    "wrong_signature": ("Runtime/FactoryAgent.cs", "CollectObservations(VectorSensor sensor)",
                         "CollectObservations(List<float> sensor)", "CS0115"),  # wrong signature: overrides nothing
    "mlagents_1x_hook": ("Runtime/FactoryAgent.cs", "OnActionReceived(ActionBuffers actions)",
                         "OnActionReceived(float[] actions)", "CS0115"),  # the ML-Agents 1.x hook, gone in 2.x
    "wrong_access": ("Runtime/FactoryAgent.cs", "protected override void OnDisable()",
                         "public override void OnDisable()", "CS0507"),  # Agent.OnDisable is protected
    "missing_override": ("Runtime/FactoryLabelsChannel.cs", "protected override void OnMessageReceived",
                         "protected void OnMessageReceived", "CS0533"),  # hides, not implements, the abstract member
    "renamed_api": ("Runtime/FactoryAgent.cs", "EnvironmentParameters.GetWithDefault(",
                         "EnvironmentParameters.GetParameterWithDefault(", "CS1061"),  # the pre-1.0 name
    "typo": ("Runtime/FactoryBody.cs", "material.bounceCombine =", "material.bounceCombination =", "CS1061"),
    "unity6_name": ("Runtime/FactoryBody.cs", "rb.velocity =", "rb.linearVelocity =", "CS1061"),
    "wrong_type_in_editor": ("Editor/HeadOnExampleBuilder.cs", "agent.bodies.Add(left);",
                             "agent.bodies.Add(left.Body);", "CS1503"),
}


@pytest.mark.parametrize("path, right, wrong, error", MISTAKES.values(), ids=MISTAKES.keys())
def test_a_kit_that_misuses_the_api_is_rejected(stubs, tmp_path, path, right, wrong, error):
    kit = tmp_path / "kit"
    shutil.copytree(KIT, kit)
    source = kit / path
    text = source.read_text()
    assert right in text, f"{path} no longer says {right!r}: update this mistake"
    source.write_text(text.replace(right, wrong, 1))
    result = build_kit(kit, stubs, tmp_path)
    assert not result.ok, f"the stubs accepted {wrong!r}"
    assert error in result.output, result.output


def test_kit_protocol_constants_mirror_the_python_side():
    source = (KIT / "Runtime" / "FactoryProtocol.cs").read_text()

    def const(name: str) -> str:
        return re.search(rf"\b{name}\s*=\s*(.+?);", source).group(1).strip()

    assert int(const("ProtocolVersion")) == protocol.PROTOCOL_VERSION
    guid = re.search(r'new Guid\("([^"]+)"\)', const("LabelsChannelId")).group(1)
    assert uuid.UUID(guid) == protocol.LABELS_CHANNEL_ID
    assert int(const("MsgContacts")) == protocol.MSG_CONTACTS
    for cs_name, value in [("KeyProtocol", protocol.KEY_PROTOCOL), ("KeyDt", protocol.KEY_DT),
                           ("KeyBounceThreshold", protocol.KEY_BOUNCE_THRESHOLD),
                           ("Episode", protocol.EPISODE), ("EpisodeSeed", protocol.EPISODE_SEED)]:
        assert const(cs_name) == f'"{value}"', cs_name
    assert re.findall(r'"(factory\.gravity\.[xyz])"', source) == list(protocol.KEY_GRAVITY)
