// Marks the support surface: contacts with it are reported as body "ground".
using UnityEngine;

namespace PhysicsFactory
{
    [RequireComponent(typeof(Collider))]
    public class FactoryGround : MonoBehaviour
    {
        Collider m_Collider;

        /// <summary>Per-episode ground values: "ground.friction", "ground.restitution" (and "ground.height"
        /// if you let it move). Both combine modes are Average, as on the bodies: a contact's restitution
        /// is the mean of the ground's and the body's.</summary>
        public void ApplyEpisode(FactoryAgent agent)
        {
            if (m_Collider == null) m_Collider = GetComponent<Collider>();
            var material = m_Collider.material;  // an instance per collider
            material.dynamicFriction = material.staticFriction =
                agent.Param("ground.friction", material.dynamicFriction);
            material.bounciness = agent.Param("ground.restitution", 0f);
            material.frictionCombine = PhysicMaterialCombine.Average;
            material.bounceCombine = PhysicMaterialCombine.Average;
        }
    }
}
