// Compile-only stub of the com.unity.ml-agents 2.x API surface the kit uses (Release 19,
// 2.2.1-exp.1, the version the kit's package.json names). Mirrors the public and protected
// signatures of Unity-Technologies/ml-agents, com.unity.ml-agents/Runtime/:
//   Agent.cs                         Agent (virtual hooks, protected virtual OnEnable/OnDisable, MaxStep)
//   Academy.cs                       Academy.Instance, Academy.IsInitialized, EnvironmentParameters
//   EnvironmentParameters.cs         sealed, GetWithDefault(string, float)
//   DecisionRequester.cs             DecisionPeriod
//   Actuators/IActionReceiver.cs     ActionBuffers (readonly struct)
//   Actuators/ActionSegment.cs       ActionSegment<T> (readonly struct, Length, indexer)
//   Actuators/ActionSpec.cs          ActionSpec.MakeContinuous
//   Sensors/VectorSensor.cs          AddObservation overloads
//   SideChannels/SideChannel.cs      abstract, protected abstract OnMessageReceived, protected QueueMessageToSend
//   SideChannels/SideChannelManager.cs, IncomingMessage.cs, OutgoingMessage.cs
//   Policies/BehaviorParameters.cs, BrainParameters.cs
// Declares only what the kit touches, with the real modifiers (abstract, virtual, sealed, protected),
// so a wrong override, a misspelt member or a misused API fails to compile. Never run.
using System;
using System.Collections.Generic;
using UnityEngine;
using Unity.MLAgents.Actuators;
using Unity.MLAgents.Policies;
using Unity.MLAgents.Sensors;

namespace Unity.MLAgents
{
    [RequireComponent(typeof(BehaviorParameters))]
    public partial class Agent : MonoBehaviour
    {
        public int MaxStep;
        public int StepCount => 0;
        public int CompletedEpisodes => 0;
        protected virtual void OnEnable() { }
        protected virtual void OnDisable() { }
        public void LazyInitialize() { }
        public void SetReward(float reward) { }
        public void AddReward(float increment) { }
        public void EndEpisode() { }
        public void EpisodeInterrupted() { }
        public void RequestDecision() { }
        public void RequestAction() { }
        public virtual void Initialize() { }
        public virtual void Heuristic(in ActionBuffers actionsOut) { }
        public virtual void CollectObservations(VectorSensor sensor) { }
        public virtual void WriteDiscreteActionMask(IDiscreteActionMask actionMask) { }
        public virtual void OnActionReceived(ActionBuffers actions) { }
        public virtual void OnEpisodeBegin() { }
        protected static float ScaleAction(float rawAction, float min, float max) => 0f;
    }

    public class Academy : IDisposable
    {
        Academy() { }
        public static bool IsInitialized => false;
        public static Academy Instance => null;
        public bool IsCommunicatorOn => false;
        public EnvironmentParameters EnvironmentParameters => null;
        public int TotalStepCount => 0;
        public void Dispose() { }
    }

    public sealed class EnvironmentParameters
    {
        internal EnvironmentParameters() { }
        public float GetWithDefault(string key, float defaultValue) => defaultValue;
        public void RegisterCallback(string key, Action<float> action) { }
        public IList<string> ListParameters() => null;
    }

    [RequireComponent(typeof(Agent))]
    public class DecisionRequester : MonoBehaviour
    {
        public int DecisionPeriod = 5;
        public bool TakeActionsBetweenDecisions = true;
    }
}

namespace Unity.MLAgents.Actuators
{
    public readonly struct ActionSegment<T> : IEnumerable<T> where T : struct
    {
        public readonly int Offset;
        public readonly int Length;
        public ActionSegment(T[] actionArray) { Offset = 0; Length = 0; }
        public ActionSegment(T[] actionArray, int offset, int length) { Offset = offset; Length = length; }
        public T this[int index] { get => default(T); set { } }
        public IEnumerator<T> GetEnumerator() => null;
        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => null;
    }

    public readonly struct ActionBuffers
    {
        public ActionSegment<float> ContinuousActions { get; }
        public ActionSegment<int> DiscreteActions { get; }
        public ActionBuffers(float[] continuousActions, int[] discreteActions) { ContinuousActions = default(ActionSegment<float>); DiscreteActions = default(ActionSegment<int>); }
    }

    public struct ActionSpec
    {
        public int NumContinuousActions { get => 0; set { } }
        public int NumDiscreteActions => 0;
        public int[] BranchSizes;
        public ActionSpec(int numContinuousActions = 0, int[] discreteBranchSizes = null) { BranchSizes = discreteBranchSizes; }
        public static ActionSpec MakeContinuous(int numActions) => default(ActionSpec);
        public static ActionSpec MakeDiscrete(params int[] branchSizes) => default(ActionSpec);
    }

    public interface IDiscreteActionMask
    {
        void SetActionEnabled(int branch, int actionIndex, bool isEnabled);
    }
}

namespace Unity.MLAgents.Sensors
{
    public class VectorSensor
    {
        public VectorSensor(int observationSize, string name = null) { }
        public void AddObservation(float observation) { }
        public void AddObservation(int observation) { }
        public void AddObservation(Vector3 observation) { }
        public void AddObservation(Quaternion observation) { }
        public void AddObservation(bool observation) { }
        public void AddObservation(IList<float> observation) { }
        public void AddOneHotObservation(int observation, int range) { }
    }
}

namespace Unity.MLAgents.SideChannels
{
    public abstract class SideChannel
    {
        public Guid ChannelId { get; protected set; }
        protected abstract void OnMessageReceived(IncomingMessage msg);
        protected void QueueMessageToSend(OutgoingMessage msg) { }
    }

    public static class SideChannelManager
    {
        public static void RegisterSideChannel(SideChannel sideChannel) { }
        public static void UnregisterSideChannel(SideChannel sideChannel) { }
    }

    public class IncomingMessage : IDisposable
    {
        public IncomingMessage(byte[] data) { }
        public bool ReadBoolean(bool defaultValue = false) => defaultValue;
        public int ReadInt32(int defaultValue = 0) => defaultValue;
        public float ReadFloat32(float defaultValue = 0f) => defaultValue;
        public string ReadString(string defaultValue = default(string)) => defaultValue;
        public IList<float> ReadFloatList(IList<float> defaultValue = default(IList<float>)) => defaultValue;
        public byte[] GetRawBytes() => null;
        public void Dispose() { }
    }

    public class OutgoingMessage : IDisposable
    {
        public OutgoingMessage() { }
        public void Dispose() { }
        public void WriteBoolean(bool b) { }
        public void WriteInt32(int i) { }
        public void WriteFloat32(float f) { }
        public void WriteString(string s) { }
        public void WriteFloatList(IList<float> floatList) { }
        public void SetRawBytes(byte[] data) { }
    }
}

namespace Unity.MLAgents.Policies
{
    public enum BehaviorType { Default, HeuristicOnly, InferenceOnly }

    [Serializable]
    public class BrainParameters
    {
        public int VectorObservationSize = 1;
        public int NumStackedVectorObservations = 1;
        public ActionSpec ActionSpec { get => default(ActionSpec); set { } }
    }

    public class BehaviorParameters : MonoBehaviour
    {
        public BrainParameters BrainParameters { get => null; internal set { } }
        public BehaviorType BehaviorType { get => default(BehaviorType); set { } }
        public string BehaviorName { get => null; set { } }
        public int TeamId;
        public bool UseChildSensors { get => false; set { } }
        public string FullyQualifiedBehaviorName => null;
    }
}
