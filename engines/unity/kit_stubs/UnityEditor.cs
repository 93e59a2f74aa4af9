// Compile-only stub of the UnityEditor API the kit's Editor scripts use, Unity 2021.3 LTS:
// MenuItem (Unity-Technologies/UnityCsReference, Editor/Mono/MenuItem.cs;
// docs.unity3d.com/2021.3/Documentation/ScriptReference/MenuItem.html). Never run.
using System;

namespace UnityEditor
{
    [AttributeUsage(AttributeTargets.Method, AllowMultiple = true)]
    public sealed class MenuItem : Attribute
    {
        public MenuItem(string itemName) { }
        public MenuItem(string itemName, bool isValidateFunction) { }
        public MenuItem(string itemName, bool isValidateFunction, int priority) { }
    }
}
