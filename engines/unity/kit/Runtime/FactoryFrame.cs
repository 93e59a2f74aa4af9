// Unity is y-up and left-handed; the factory is z-up and right-handed with quaternions (w, x, y, z).
// Swapping y and z maps one onto the other (a reflection), so vectors swizzle and rotations and
// angular velocities (pseudo-vectors) also flip sign. The wire only ever carries factory values.
using UnityEngine;

namespace PhysicsFactory
{
    public static class FactoryFrame
    {
        public static Vector3 ToFactory(Vector3 u) => new Vector3(u.x, u.z, u.y);
        public static Vector3 FromFactory(float x, float y, float z) => new Vector3(x, z, y);

        public static Vector3 AngularToFactory(Vector3 u) => -ToFactory(u);
        public static Vector3 AngularFromFactory(float x, float y, float z) => -FromFactory(x, y, z);

        /// <summary>Factory quaternion components (w, x, y, z) of a Unity rotation.</summary>
        public static Vector4 QuatToFactory(Quaternion q) => new Vector4(q.w, -q.x, -q.z, -q.y);
        public static Quaternion QuatFromFactory(float w, float x, float y, float z) => new Quaternion(-x, -z, -y, w);
    }
}
