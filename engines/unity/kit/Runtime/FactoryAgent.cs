// One episode slot: a copy of the scenario ("training area") driven by the factory.
// Add it with Behavior Parameters (Behavior Type: Default, Vector Observation size 2 + 13 x bodies,
// Continuous Actions 3 x bodies) and a Decision Requester with Decision Period 1; set Max Step 0.
// Subclass it and override OnFactoryEpisodeBegin to apply scenario-specific parameters.
using System.Collections.Generic;
using Unity.MLAgents;
using Unity.MLAgents.Actuators;
using Unity.MLAgents.Sensors;
using UnityEngine;

namespace PhysicsFactory
{
    public class FactoryAgent : Agent
    {
        [Tooltip("Episode slot: 0..K-1, unique among the factory agents of the build.")]
        public int slot;
        [Tooltip("Bodies in observation/action order (the recipe's scene.objects order by default).")]
        public List<FactoryBody> bodies = new List<FactoryBody>();
        [Tooltip("Optional support surface of this area.")]
        public FactoryGround ground;
        [Tooltip("Origin of this area; states and contacts are reported relative to it.")]
        public Transform area;

        /// <summary>Randomness for anything the recipe does not set, seeded from (recipe seed, episode).</summary>
        public System.Random EpisodeRandom { get; private set; } = new System.Random(0);
        public int EpisodeIndex { get; private set; }
        public Vector3 AreaOrigin => area != null ? area.position : Vector3.zero;

        int m_Step;
        readonly List<FactoryContact> m_Contacts = new List<FactoryContact>();
        readonly List<float> m_Observation = new List<float>();

        /// <summary>This slot's value of a per-episode parameter, e.g. Param("box.mass", 1).</summary>
        public float Param(string name, float fallback) =>
            Academy.Instance.EnvironmentParameters.GetWithDefault(FactoryProtocol.ParamKey(slot, name), fallback);

        static float Shared(string name, float fallback) =>
            Academy.Instance.EnvironmentParameters.GetWithDefault(name, fallback);

        public override void Initialize()
        {
            for (int i = 0; i < bodies.Count; i++)
            {
                bodies[i].Agent = this;
                bodies[i].Index = i;
            }
            _ = FactoryLabelsChannel.Instance;  // registers the channel before the first step
        }

        public override void OnEpisodeBegin()
        {
            int protocol = (int)Shared(FactoryProtocol.KeyProtocol, FactoryProtocol.ProtocolVersion);
            if (protocol != FactoryProtocol.ProtocolVersion)
                Debug.LogError($"PhysicsFactory: the factory speaks protocol {protocol}, this kit {FactoryProtocol.ProtocolVersion}");
            Time.fixedDeltaTime = Shared(FactoryProtocol.KeyDt, Time.fixedDeltaTime);
            // impacts slower than this stay plastic; Unity's default (2 m/s) would flatten slow bounces
            Physics.bounceThreshold = Shared(FactoryProtocol.KeyBounceThreshold, Physics.bounceThreshold);
            Physics.gravity = FactoryFrame.FromFactory(Shared(FactoryProtocol.KeyGravity[0], 0f),
                Shared(FactoryProtocol.KeyGravity[1], 0f), Shared(FactoryProtocol.KeyGravity[2], -9.81f));
            EpisodeIndex = (int)Param(FactoryProtocol.Episode, 0f);
            EpisodeRandom = new System.Random((int)Param(FactoryProtocol.EpisodeSeed, 0f));
            if (ground != null) ground.ApplyEpisode(this);
            foreach (var body in bodies) body.ApplyEpisode(this, AreaOrigin);
            Physics.SyncTransforms();
            OnFactoryEpisodeBegin();
            m_Step = 0;
            m_Contacts.Clear();
        }

        /// <summary>Hook for scenario-specific parameters; runs after the bodies are placed.</summary>
        protected virtual void OnFactoryEpisodeBegin() { }

        public override void CollectObservations(VectorSensor sensor)
        {
            // contacts recorded during the physics step that produced this state go out with it
            FactoryLabelsChannel.Instance.SendContacts(slot, m_Step, m_Contacts);
            m_Contacts.Clear();
            m_Observation.Clear();
            m_Observation.Add(slot);
            m_Observation.Add(m_Step);
            foreach (var body in bodies) body.WriteState(m_Observation, AreaOrigin);
            sensor.AddObservation(m_Observation);
        }

        public override void OnActionReceived(ActionBuffers actions)
        {
            var a = actions.ContinuousActions;  // impulses in N*s, factory frame; never clamp them
            for (int i = 0; i < bodies.Count && 3 * i + 2 < a.Length; i++)
            {
                var rb = bodies[i].Body;
                if (!rb.isKinematic)
                    rb.AddForce(FactoryFrame.FromFactory(a[3 * i], a[3 * i + 1], a[3 * i + 2]), ForceMode.Impulse);
            }
            m_Step++;  // the physics step that follows produces state m_Step
        }

        internal void AddContact(FactoryContact contact) => m_Contacts.Add(contact);

        protected override void OnDisable()
        {
            base.OnDisable();
            FactoryLabelsChannel.Unregister();
        }
    }
}
