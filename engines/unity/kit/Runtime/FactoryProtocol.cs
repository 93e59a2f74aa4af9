// The factory's contract with a Unity scene, mirrored from engines/unity/protocol.py.
// Keep both in step: PROTOCOL_VERSION there must equal ProtocolVersion here.
using System;

namespace PhysicsFactory
{
    public static class FactoryProtocol
    {
        public const int ProtocolVersion = 2;
        public static readonly Guid LabelsChannelId = new Guid("6f1b2c8e-4d1a-4f3e-9a57-0c2d7e5b9a41");
        public const int MsgContacts = 1;

        public const string KeyProtocol = "factory.protocol";
        public const string KeyDt = "factory.dt";
        public const string KeyBounceThreshold = "factory.bounce_threshold";
        public static readonly string[] KeyGravity = { "factory.gravity.x", "factory.gravity.y", "factory.gravity.z" };
        public const string Episode = "factory.episode";
        public const string EpisodeSeed = "factory.seed";
        public const string Ground = "ground";

        /// <summary>Per-episode values are keyed "slot/name", e.g. "0/box.mass".</summary>
        public static string ParamKey(int slot, string name) => slot + "/" + name;
    }
}
