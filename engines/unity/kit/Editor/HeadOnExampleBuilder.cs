// Menu "Physics Factory > Create Head-On Example": builds the example scenario of
// recipes/unity/head_on.yaml in the open scene: K areas, each a ground plane, two spheres
// ("left", "right") and a FactoryAgent with its Behavior Parameters and Decision Requester.
using Unity.MLAgents;
using Unity.MLAgents.Actuators;
using Unity.MLAgents.Policies;
using UnityEditor;
using UnityEngine;

namespace PhysicsFactory.Editor
{
    public static class HeadOnExampleBuilder
    {
        const int Areas = 4;
        const float Spacing = 10f;  // areas far enough apart never to touch

        [MenuItem("Physics Factory/Create Head-On Example")]
        public static void Create()
        {
            for (int slot = 0; slot < Areas; slot++)
                CreateArea(slot, new Vector3(slot * Spacing, 0f, 0f));
            Debug.Log($"PhysicsFactory: created {Areas} head-on areas; save the scene and build it (see README)");
        }

        static void CreateArea(int slot, Vector3 origin)
        {
            var area = new GameObject($"HeadOnArea{slot}").transform;
            area.position = origin;

            var plane = GameObject.CreatePrimitive(PrimitiveType.Plane);
            plane.name = "Ground";
            plane.transform.SetParent(area, false);
            plane.transform.localScale = new Vector3(0.5f, 1f, 0.5f);  // 5 m x 5 m
            var ground = plane.AddComponent<FactoryGround>();

            var left = CreateSphere("left", area);
            var right = CreateSphere("right", area);

            var agentObject = new GameObject("FactoryAgent");
            agentObject.transform.SetParent(area, false);
            var agent = agentObject.AddComponent<FactoryAgent>();  // adds Behavior Parameters
            agent.slot = slot;
            agent.area = area;
            agent.ground = ground;
            agent.bodies.Add(left);
            agent.bodies.Add(right);
            agent.MaxStep = 0;
            var behavior = agentObject.GetComponent<BehaviorParameters>();
            behavior.BehaviorName = "FactoryScene";
            behavior.BehaviorType = BehaviorType.Default;
            behavior.BrainParameters.VectorObservationSize = 2 + 13 * agent.bodies.Count;
            behavior.BrainParameters.ActionSpec = ActionSpec.MakeContinuous(3 * agent.bodies.Count);
            agentObject.AddComponent<DecisionRequester>().DecisionPeriod = 1;
        }

        static FactoryBody CreateSphere(string name, Transform area)
        {
            var sphere = GameObject.CreatePrimitive(PrimitiveType.Sphere);
            sphere.name = name;
            sphere.transform.SetParent(area, false);
            var rb = sphere.AddComponent<Rigidbody>();
            rb.collisionDetectionMode = CollisionDetectionMode.ContinuousDynamic;
            var body = sphere.AddComponent<FactoryBody>();
            body.bodyName = name;
            body.shape = FactoryShape.Sphere;
            return body;
        }
    }
}
