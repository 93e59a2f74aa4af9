// One rigid body of the scenario, named as in the recipe's scene.objects. Applies its per-episode
// parameters, reports its state in the factory frame, and records the contacts it takes part in.
using System.Collections.Generic;
using UnityEngine;

namespace PhysicsFactory
{
    public enum FactoryShape { Sphere, Box, Cylinder }

    [RequireComponent(typeof(Rigidbody))]
    public class FactoryBody : MonoBehaviour
    {
        [Tooltip("The object's name in the recipe (scene.objects[].name).")]
        public string bodyName = "box";
        public FactoryShape shape = FactoryShape.Sphere;

        internal FactoryAgent Agent;
        internal int Index;  // position in the agent's body list; the lower index reports a pair
        Rigidbody m_Body;
        Collider m_Collider;

        public Rigidbody Body => m_Body != null ? m_Body : (m_Body = GetComponent<Rigidbody>());

        /// <summary>Set shape, mass, material and the step-0 state from the episode's parameters.</summary>
        public void ApplyEpisode(FactoryAgent agent, Vector3 areaOrigin)
        {
            string n = bodyName;
            if (m_Collider == null) m_Collider = GetComponent<Collider>();
            switch (shape)
            {
                case FactoryShape.Sphere:
                    transform.localScale = Vector3.one * 2f * agent.Param(n + ".radius", transform.localScale.x / 2f);
                    break;
                case FactoryShape.Box:
                    transform.localScale = FactoryFrame.FromFactory(agent.Param(n + ".size.x", 1f),
                        agent.Param(n + ".size.y", 1f), agent.Param(n + ".size.z", 1f));
                    break;
                case FactoryShape.Cylinder:  // Unity's cylinder primitive is 2 units tall, 1 wide
                    float d = 2f * agent.Param(n + ".radius", 0.5f);
                    transform.localScale = new Vector3(d, agent.Param(n + ".height", 2f) / 2f, d);
                    break;
            }
            var material = m_Collider.material;
            material.dynamicFriction = material.staticFriction = agent.Param(n + ".friction", material.dynamicFriction);
            material.bounciness = agent.Param(n + ".restitution", 0f);
            material.frictionCombine = PhysicMaterialCombine.Average;
            material.bounceCombine = PhysicMaterialCombine.Average;

            var rb = Body;
            rb.isKinematic = agent.Param(n + ".fixed", 0f) > 0.5f;
            if (!rb.isKinematic) rb.mass = agent.Param(n + ".mass", rb.mass);
            transform.position = areaOrigin + FactoryFrame.FromFactory(agent.Param(n + ".pos.x", 0f),
                agent.Param(n + ".pos.y", 0f), agent.Param(n + ".pos.z", 0f));
            transform.rotation = FactoryFrame.QuatFromFactory(agent.Param(n + ".quat.w", 1f),
                agent.Param(n + ".quat.x", 0f), agent.Param(n + ".quat.y", 0f), agent.Param(n + ".quat.z", 0f));
            if (!rb.isKinematic)
            {
                rb.velocity = FactoryFrame.FromFactory(agent.Param(n + ".vel.x", 0f),
                    agent.Param(n + ".vel.y", 0f), agent.Param(n + ".vel.z", 0f));
                rb.angularVelocity = FactoryFrame.AngularFromFactory(agent.Param(n + ".ang_vel.x", 0f),
                    agent.Param(n + ".ang_vel.y", 0f), agent.Param(n + ".ang_vel.z", 0f));
            }
        }

        /// <summary>pos (3), quat w x y z (4), vel (3), ang_vel (3), factory frame, relative to the area.</summary>
        public void WriteState(List<float> into, Vector3 areaOrigin)
        {
            var rb = Body;
            var p = FactoryFrame.ToFactory(rb.position - areaOrigin);
            var q = FactoryFrame.QuatToFactory(rb.rotation);
            var v = FactoryFrame.ToFactory(rb.velocity);
            var w = FactoryFrame.AngularToFactory(rb.angularVelocity);
            into.Add(p.x); into.Add(p.y); into.Add(p.z);
            into.Add(q.x); into.Add(q.y); into.Add(q.z); into.Add(q.w);  // Vector4 (x..w) holds (w, x, y, z)
            into.Add(v.x); into.Add(v.y); into.Add(v.z);
            into.Add(w.x); into.Add(w.y); into.Add(w.z);
        }

        void OnCollisionEnter(Collision c) => Record(c);
        void OnCollisionStay(Collision c) => Record(c);

        /// <summary>Each contact point once: a pair of bodies reports from its lower index, ground contacts from the body.</summary>
        void Record(Collision collision)
        {
            if (Agent == null) return;
            string other;
            var otherBody = collision.collider.GetComponentInParent<FactoryBody>();
            if (otherBody != null)
            {
                if (otherBody.Agent != Agent || otherBody.Index < Index) return;
                other = otherBody.bodyName;
            }
            else if (collision.collider.GetComponentInParent<FactoryGround>() != null)
                other = FactoryProtocol.Ground;
            else
                return;  // scenery the recipe does not name
            bool groundIsA = other == FactoryProtocol.Ground;
            int n = collision.contactCount;
            float force = collision.impulse.magnitude / Time.fixedDeltaTime / Mathf.Max(n, 1);
            for (int i = 0; i < n; i++)
            {
                var cp = collision.GetContact(i);
                // cp.normal points from the other collider towards this body
                var normal = FactoryFrame.ToFactory(groundIsA ? cp.normal : -cp.normal);  // from a to b
                Agent.AddContact(new FactoryContact
                {
                    BodyA = groundIsA ? other : bodyName,
                    BodyB = groundIsA ? bodyName : other,
                    Position = FactoryFrame.ToFactory(cp.point - Agent.AreaOrigin),
                    Normal = normal,
                    ForceOnA = -normal * force,  // normal part only: a is pushed away from b
                    Penetration = Mathf.Max(0f, -cp.separation),
                });
            }
        }
    }
}
