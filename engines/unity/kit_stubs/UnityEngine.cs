// Compile-only stub of the UnityEngine API surface the kit uses, Unity 2021.3 LTS (the kit's
// package.json "unity": "2021.3"). Mirrors the public signatures of UnityEngine.CoreModule and
// UnityEngine.PhysicsModule as documented at docs.unity3d.com/2021.3/Documentation/ScriptReference
// and published in Unity-Technologies/UnityCsReference (Runtime/Export/Scripting/*.cs,
// Runtime/Export/Math/Vector3.cs, Quaternion.cs, Modules/Physics/ScriptBindings/Dynamics.bindings.cs,
// Collider.bindings.cs, PhysicMaterial.bindings.cs, Physics.bindings.cs). Declares only what the kit
// touches: a member missing here is a member the kit does not use. Never run; bodies are placeholders.
using System;

namespace UnityEngine
{
    public class Object
    {
        public string name { get => null; set { } }
        public static void Destroy(Object obj) { }
        public static implicit operator bool(Object exists) => exists is object;
    }

    public class Component : Object
    {
        public Transform transform => null;
        public GameObject gameObject => null;
        public T GetComponent<T>() => default(T);
        public T GetComponentInParent<T>() => default(T);
    }

    public class Behaviour : Component
    {
        public bool enabled { get => false; set { } }
    }

    // Unity calls its messages (Awake, OnEnable, OnCollisionEnter, ...) by name: none is virtual here.
    public class MonoBehaviour : Behaviour { }

    public sealed class GameObject : Object
    {
        public GameObject() { }
        public GameObject(string name) { }
        public Transform transform => null;
        public T AddComponent<T>() where T : Component => null;
        public T GetComponent<T>() => default(T);
        public static GameObject CreatePrimitive(PrimitiveType type) => null;
    }

    public enum PrimitiveType { Sphere = 0, Capsule = 1, Cylinder = 2, Cube = 3, Plane = 4, Quad = 5 }

    public class Transform : Component
    {
        public Vector3 position { get => default(Vector3); set { } }
        public Quaternion rotation { get => default(Quaternion); set { } }
        public Vector3 localScale { get => default(Vector3); set { } }
        public void SetParent(Transform parent) { }
        public void SetParent(Transform parent, bool worldPositionStays) { }
    }

    public struct Vector3
    {
        public float x, y, z;
        public Vector3(float x, float y, float z) { this.x = x; this.y = y; this.z = z; }
        public static Vector3 zero => default(Vector3);
        public static Vector3 one => default(Vector3);
        public float magnitude => 0f;
        public static Vector3 operator +(Vector3 a, Vector3 b) => a;
        public static Vector3 operator -(Vector3 a, Vector3 b) => a;
        public static Vector3 operator -(Vector3 a) => a;
        public static Vector3 operator *(Vector3 a, float d) => a;
        public static Vector3 operator *(float d, Vector3 a) => a;
        public static Vector3 operator /(Vector3 a, float d) => a;
    }

    public struct Vector4
    {
        public float x, y, z, w;
        public Vector4(float x, float y, float z, float w) { this.x = x; this.y = y; this.z = z; this.w = w; }
    }

    public struct Quaternion
    {
        public float x, y, z, w;
        public Quaternion(float x, float y, float z, float w) { this.x = x; this.y = y; this.z = z; this.w = w; }
        public static Quaternion identity => default(Quaternion);
    }

    public struct Mathf
    {
        public static float Max(float a, float b) => a;
        public static int Max(int a, int b) => a;
        public static float Min(float a, float b) => a;
        public static int Min(int a, int b) => a;
    }

    public sealed class Debug
    {
        public static void Log(object message) { }
        public static void LogWarning(object message) { }
        public static void LogError(object message) { }
    }

    public class Time
    {
        public static float fixedDeltaTime { get => 0f; set { } }
    }

    [AttributeUsage(AttributeTargets.Field, Inherited = true, AllowMultiple = false)]
    public abstract class PropertyAttribute : Attribute { }

    [AttributeUsage(AttributeTargets.Field, Inherited = true, AllowMultiple = false)]
    public class TooltipAttribute : PropertyAttribute
    {
        public readonly string tooltip;
        public TooltipAttribute(string tooltip) { this.tooltip = tooltip; }
    }

    [AttributeUsage(AttributeTargets.Class, AllowMultiple = true)]
    public sealed class RequireComponent : Attribute
    {
        public RequireComponent(Type requiredComponent) { }
        public RequireComponent(Type requiredComponent, Type requiredComponent2) { }
    }

    // ---------------------------------------------------------------- UnityEngine.PhysicsModule
    public enum ForceMode { Force = 0, Acceleration = 5, Impulse = 1, VelocityChange = 2 }

    public enum CollisionDetectionMode { Discrete = 0, Continuous = 1, ContinuousDynamic = 2, ContinuousSpeculative = 3 }

    public enum PhysicMaterialCombine { Average = 0, Minimum = 2, Multiply = 1, Maximum = 3 }

    public class Rigidbody : Component
    {
        public Vector3 velocity { get => default(Vector3); set { } }
        public Vector3 angularVelocity { get => default(Vector3); set { } }
        public float mass { get => 0f; set { } }
        public bool isKinematic { get => false; set { } }
        public Vector3 position { get => default(Vector3); set { } }
        public Quaternion rotation { get => default(Quaternion); set { } }
        public CollisionDetectionMode collisionDetectionMode { get => default(CollisionDetectionMode); set { } }
        public void AddForce(Vector3 force, ForceMode mode) { }
        public void AddForce(Vector3 force) { }
    }

    public class Collider : Component
    {
        public bool enabled { get => false; set { } }
        public bool isTrigger { get => false; set { } }
        public Rigidbody attachedRigidbody => null;
        /// <summary>Getting it instantiates a copy of a shared material for this collider.</summary>
        public PhysicMaterial material { get => null; set { } }
        public PhysicMaterial sharedMaterial { get => null; set { } }
    }

    public class SphereCollider : Collider { }
    public class BoxCollider : Collider { }
    public class MeshCollider : Collider { }

    public class PhysicMaterial : Object
    {
        public PhysicMaterial() { }
        public PhysicMaterial(string name) { }
        public float dynamicFriction { get => 0f; set { } }
        public float staticFriction { get => 0f; set { } }
        public float bounciness { get => 0f; set { } }
        public PhysicMaterialCombine frictionCombine { get => default(PhysicMaterialCombine); set { } }
        public PhysicMaterialCombine bounceCombine { get => default(PhysicMaterialCombine); set { } }
    }

    public struct ContactPoint
    {
        public Vector3 point => default(Vector3);
        public Vector3 normal => default(Vector3);
        public Collider thisCollider => null;
        public Collider otherCollider => null;
        public float separation => 0f;
    }

    public class Collision
    {
        public Vector3 relativeVelocity => default(Vector3);
        public Rigidbody rigidbody => null;
        public Collider collider => null;
        public Transform transform => null;
        public GameObject gameObject => null;
        public int contactCount => 0;
        public Vector3 impulse => default(Vector3);
        public ContactPoint GetContact(int index) => default(ContactPoint);
    }

    public class Physics
    {
        public static Vector3 gravity { get => default(Vector3); set { } }
        /// <summary>Relative speed below which contacts do not bounce (m/s, default 2).</summary>
        public static float bounceThreshold { get => 0f; set { } }
        public static void SyncTransforms() { }
    }
}
