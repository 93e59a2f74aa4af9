// The label side channel, Unity side: one message per agent and step listing its contacts.
// Layout (little-endian, as OutgoingMessage writes): int kind=1, int slot, int step, int count,
// then per contact: string bodyA, string bodyB, 10 floats (position xyz, normal a->b xyz,
// force on a xyz in N, penetration in m), all in the factory frame.
using System;
using System.Collections.Generic;
using Unity.MLAgents.SideChannels;
using UnityEngine;

namespace PhysicsFactory
{
    public struct FactoryContact
    {
        public string BodyA, BodyB;
        public Vector3 Position, Normal, ForceOnA;  // factory frame
        public float Penetration;
    }

    public class FactoryLabelsChannel : SideChannel
    {
        static FactoryLabelsChannel s_Instance;

        /// <summary>The one registered channel; created and registered on first use.</summary>
        public static FactoryLabelsChannel Instance
        {
            get
            {
                if (s_Instance == null)
                {
                    s_Instance = new FactoryLabelsChannel();
                    SideChannelManager.RegisterSideChannel(s_Instance);
                }
                return s_Instance;
            }
        }

        FactoryLabelsChannel() { ChannelId = FactoryProtocol.LabelsChannelId; }

        protected override void OnMessageReceived(IncomingMessage msg)
        {
            Debug.LogWarning("PhysicsFactory: the label channel does not expect messages from Python");
        }

        public void SendContacts(int slot, int step, List<FactoryContact> contacts)
        {
            if (contacts.Count == 0) return;
            using (var msg = new OutgoingMessage())
            {
                msg.WriteInt32(FactoryProtocol.MsgContacts);
                msg.WriteInt32(slot);
                msg.WriteInt32(step);
                msg.WriteInt32(contacts.Count);
                foreach (var c in contacts)
                {
                    msg.WriteString(c.BodyA);
                    msg.WriteString(c.BodyB);
                    WriteVector(msg, c.Position);
                    WriteVector(msg, c.Normal);
                    WriteVector(msg, c.ForceOnA);
                    msg.WriteFloat32(c.Penetration);
                }
                QueueMessageToSend(msg);
            }
        }

        static void WriteVector(OutgoingMessage msg, Vector3 v)
        {
            msg.WriteFloat32(v.x);
            msg.WriteFloat32(v.y);
            msg.WriteFloat32(v.z);
        }

        public static void Unregister()
        {
            if (s_Instance != null && Unity.MLAgents.Academy.IsInitialized)
                SideChannelManager.UnregisterSideChannel(s_Instance);
            s_Instance = null;
        }
    }
}
