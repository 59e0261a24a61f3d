using System.Reflection;
using System.Reflection.Emit;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;
using EventSourced.Domain.Jobs;
using EventSourced.EventStore;
using EventSourced.Projections.Jobs;
using EventSourced.Scheduling;
using Marten;

namespace EventSourced.Api.Tests;

/// <summary>
/// Every append of a job's events goes through the write port, <see cref="JobStreams"/>: read from the compiled code (the IL
/// of every method of the service's assemblies, Wolverine's generated handlers included), not from a list of the paths that
/// exist today, so a new path that appends on its own fails here.
/// </summary>
public sealed class ArchitectureTests
{
    /// <summary>The service's assemblies.</summary>
    private static readonly Assembly[] Service =
        [typeof(ApiHost).Assembly, typeof(JobStreams).Assembly, typeof(GroupCommit).Assembly, typeof(JobStatusView).Assembly, typeof(JobDecider).Assembly];

    /// <summary>
    /// Marten's event-writing API: what a document session's Events offers beyond a query session's (appending, starting and
    /// archiving streams, fetching for writing), and Wolverine's and Marten's event streams (the aggregate-handler workflow).
    /// </summary>
    private static readonly HashSet<string> EventWriteTypes =
    [
        .. WithInterfaces(typeof(IDocumentSession).GetProperty(nameof(IDocumentSession.Events))!.PropertyType)
            .Except(WithInterfaces(typeof(IQuerySession).GetProperty(nameof(IQuerySession.Events))!.PropertyType))
            .Append(typeof(JasperFx.Events.IEventStream<>))
            .Select(t => t.FullName!),
    ];

    private static bool IsMartenEventWrite(string type, string member) =>
        EventWriteTypes.Contains(type)
        || (member == "get_Events" && type is "Marten.IDocumentSession" or "Marten.IDocumentOperations" or "Marten.ITenantOperations");

    private static IEnumerable<Type> WithInterfaces(Type type) => type.GetInterfaces().Prepend(type);

    /// <summary>Group commit, the port's engine (in the event store's layer, generic over streams): it calls Marten for the port, and only the port calls it.</summary>
    private static bool IsEngine(string type) => type == typeof(GroupCommit).FullName || type == typeof(StreamAppend).FullName;

    private static bool IsAppend(string type, string member) =>
        IsMartenEventWrite(type, member)
        || (type == typeof(GroupCommit).FullName && member == nameof(GroupCommit.Append))
        || (type == typeof(StreamAppend).FullName && member == nameof(StreamAppend.AddTo));

    [Fact]
    public void Only_the_write_port_appends_to_job_streams()
    {
        var strays = Service.SelectMany(a => Calls(a.Location))
            .Where(c => IsAppend(c.Type, c.Member))
            .Where(c => c.Caller != typeof(JobStreams).FullName && !IsEngine(c.Caller))
            .Select(c => $"{c.Caller}.{c.Method} calls {c.Type}.{c.Member}")
            .Distinct()
            .ToList();

        Assert.True(strays.Count == 0, "Appends outside JobStreams, the one write port for job streams:\n" + string.Join('\n', strays));
    }

    [Fact]
    public void The_scan_sees_the_ports_own_appends()
    {
        // Were the IL reading broken (no calls found), the test above would pass for nothing.
        var calls = Service.SelectMany(a => Calls(a.Location)).ToList();

        Assert.Contains(calls, c => c.Caller == typeof(JobStreams).FullName && c.Type == typeof(GroupCommit).FullName && c.Member == nameof(GroupCommit.Append));
        Assert.Contains(calls, c => c.Caller == typeof(JobStreams).FullName && IsMartenEventWrite(c.Type, c.Member) && c.Member == "ArchiveStream");
        Assert.Contains(calls, c => c.Caller == typeof(StreamAppend).FullName && IsMartenEventWrite(c.Type, c.Member) && c.Member == "StartStream");
        Assert.Contains("JasperFx.Events.IEventOperations", EventWriteTypes);
    }

    private sealed record Call(string Caller, string Method, string Type, string Member);

    private static readonly Dictionary<ushort, OperandType> Operands = typeof(OpCodes).GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!).ToDictionary(o => (ushort)o.Value, o => o.OperandType);

    /// <summary>Every method called (or whose address is taken) in the assembly's IL, with the outermost type of the caller (lambdas and async state machines are nested in it).</summary>
    private static List<Call> Calls(string path)
    {
        using var pe = new PEReader(File.OpenRead(path));
        var md = pe.GetMetadataReader();
        var calls = new List<Call>();
        foreach (var typeHandle in md.TypeDefinitions)
        {
            var outer = typeHandle;
            while (!md.GetTypeDefinition(outer).GetDeclaringType().IsNil)
                outer = md.GetTypeDefinition(outer).GetDeclaringType();
            var caller = Name(md, outer);
            foreach (var methodHandle in md.GetTypeDefinition(typeHandle).GetMethods())
            {
                var method = md.GetMethodDefinition(methodHandle);
                if (method.RelativeVirtualAddress == 0)
                    continue;
                var il = pe.GetMethodBody(method.RelativeVirtualAddress).GetILReader();
                while (il.RemainingBytes > 0)
                {
                    var code = il.ReadByte();
                    var opcode = code == 0xFE ? (ushort)(0xFE00 | il.ReadByte()) : code;
                    switch (Operands[opcode])
                    {
                        case OperandType.InlineMethod:
                            var (type, member) = Target(md, MetadataTokens.EntityHandle(il.ReadInt32()));
                            calls.Add(new Call(caller, md.GetString(method.Name), type, member));
                            break;
                        case OperandType.InlineSwitch:
                            il.Offset += 4 * il.ReadInt32();
                            break;
                        case var operand:
                            il.Offset += operand switch
                            {
                                OperandType.InlineNone => 0,
                                OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
                                OperandType.InlineVar => 2,
                                OperandType.InlineI8 or OperandType.InlineR => 8,
                                _ => 4,
                            };
                            break;
                    }
                }
            }
        }
        return calls;
    }

    private static (string Type, string Member) Target(MetadataReader md, EntityHandle handle) => handle.Kind switch
    {
        HandleKind.MethodDefinition => (Name(md, md.GetMethodDefinition((MethodDefinitionHandle)handle).GetDeclaringType()),
            md.GetString(md.GetMethodDefinition((MethodDefinitionHandle)handle).Name)),
        HandleKind.MemberReference => (Name(md, md.GetMemberReference((MemberReferenceHandle)handle).Parent),
            md.GetString(md.GetMemberReference((MemberReferenceHandle)handle).Name)),
        HandleKind.MethodSpecification => Target(md, md.GetMethodSpecification((MethodSpecificationHandle)handle).Method),
        _ => ("", ""),
    };

    private static string Name(MetadataReader md, EntityHandle handle)
    {
        switch (handle.Kind)
        {
            case HandleKind.TypeDefinition:
                var definition = md.GetTypeDefinition((TypeDefinitionHandle)handle);
                return Qualified(md.GetString(definition.Namespace), md.GetString(definition.Name));
            case HandleKind.TypeReference:
                var reference = md.GetTypeReference((TypeReferenceHandle)handle);
                return Qualified(md.GetString(reference.Namespace), md.GetString(reference.Name));
            case HandleKind.TypeSpecification:
                // A generic type's instance (IEventStream<JobStatusView>): named by its definition.
                var blob = md.GetBlobReader(md.GetTypeSpecification((TypeSpecificationHandle)handle).Signature);
                if (blob.ReadSignatureTypeCode() != SignatureTypeCode.GenericTypeInstance)
                    return "";
                blob.ReadSignatureTypeCode();
                return Name(md, blob.ReadTypeHandle());
            default:
                return "";
        }
    }

    private static string Qualified(string ns, string name) => ns.Length == 0 ? name : $"{ns}.{name}";
}
