using System.Globalization;
using FluentValidation;
using FluentValidation.Internal;
using FluentValidation.Validators;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace EventSourced.Api.Contract;

/// <summary>
/// Writes into a request body's schema the limits its FluentValidation validator enforces, read from the validator's own rules
/// (its descriptor's rule components), so the document and the validator cannot drift: lengths (maxLength, minLength), ranges
/// (minimum, maximum and their exclusive forms), patterns, and fields the validator needs (required, not null). Only rules
/// that hold unconditionally are written (a rule with a When says nothing about every request); rules FluentValidation cannot
/// describe (a Must) stay in the validator and its answers alone. What the strict reader (JsonBody) adds: no unknown fields.
/// </summary>
public static class ValidatorSchemas
{
    public static Task Transform(OpenApiSchema schema, OpenApiSchemaTransformerContext context, CancellationToken ct)
    {
        var type = context.JsonTypeInfo.Type;
        if (context.JsonPropertyInfo is not null || schema.Properties is not { Count: > 0 } properties
            || context.ApplicationServices.GetService(typeof(IValidator<>).MakeGenericType(type)) is not IValidator validator)
            return Task.CompletedTask;

        // JsonBody reads request bodies with JsonUnmappedMemberHandling.Disallow: a field the type does not have is refused.
        schema.AdditionalPropertiesAllowed = false;
        foreach (var rule in Rules(validator))
        {
            if (rule.PropertyName is not { } name || rule.HasCondition || rule.HasAsyncCondition
                || properties.FirstOrDefault(p => string.Equals(p.Key, name, StringComparison.OrdinalIgnoreCase)) is not { Value: OpenApiSchema property } found)
                continue;
            // RuleForEach: the rule holds for each item of the list.
            var each = rule.GetType().GetInterfaces().Any(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(ICollectionRule<,>));
            var target = each ? property.Items as OpenApiSchema : property;
            if (target is null)
                continue;
            foreach (var component in rule.Components.Where(c => !c.HasCondition && !c.HasAsyncCondition))
            {
                if (!each && component.Validator is INotNullValidator or INotEmptyValidator)
                {
                    (schema.Required ??= new HashSet<string>()).Add(found.Key);
                    if (property.Type is { } t)
                        property.Type = t & ~JsonSchemaType.Null;
                }
                Describe(target, component.Validator);
            }
        }
        return Task.CompletedTask;
    }

    private static void Describe(OpenApiSchema target, IPropertyValidator validator)
    {
        var isString = target.Type?.HasFlag(JsonSchemaType.String) == true;
        switch (validator)
        {
            case INotEmptyValidator when isString:
                target.MinLength = Math.Max(target.MinLength ?? 0, 1);
                break;
            case INotEmptyValidator when target.Type?.HasFlag(JsonSchemaType.Array) == true:
                target.MinItems = Math.Max(target.MinItems ?? 0, 1);
                break;
            case ILengthValidator length when isString:
                if (length.Max >= 0)
                    target.MaxLength = length.Max;
                if (length.Min > 0)
                    target.MinLength = length.Min;
                break;
            case IBetweenValidator between when validator.GetType().GetGenericTypeDefinition() == typeof(InclusiveBetweenValidator<,>):
                target.Minimum = Number(between.From);
                target.Maximum = Number(between.To);
                break;
            case IBetweenValidator between:
                target.ExclusiveMinimum = Number(between.From);
                target.ExclusiveMaximum = Number(between.To);
                break;
            case IComparisonValidator { MemberToCompare: null, ValueToCompare: { } value } comparison:
                switch (comparison.Comparison)
                {
                    case Comparison.GreaterThan:
                        target.ExclusiveMinimum = Number(value);
                        break;
                    case Comparison.GreaterThanOrEqual:
                        target.Minimum = Number(value);
                        break;
                    case Comparison.LessThan:
                        target.ExclusiveMaximum = Number(value);
                        break;
                    case Comparison.LessThanOrEqual:
                        target.Maximum = Number(value);
                        break;
                }
                break;
            case IRegularExpressionValidator regex:
                target.Pattern = regex.Expression;
                break;
        }
    }

    /// <summary>The validator's rules, with those of the validators it includes (Include(...)), as they run.</summary>
    private static IEnumerable<IValidationRule> Rules(IValidator validator)
    {
        foreach (var rule in validator.CreateDescriptor().Rules)
        {
            if (rule is not IIncludeRule)
            {
                yield return rule;
                continue;
            }
            // An included validator is held by its rule's one component (a ChildValidatorAdaptor<T, T>), which hands it over for
            // a validation context; FluentValidation's descriptor does not open it.
            foreach (var component in rule.Components)
            {
                var adaptor = component.Validator.GetType();
                var validated = adaptor.IsGenericType ? adaptor.GetGenericArguments()[0] : null;
                var get = adaptor.GetMethod("GetValidator");
                if (validated is null || get is null)
                    continue;
                var context = Activator.CreateInstance(typeof(ValidationContext<>).MakeGenericType(validated), [null]);
                if (get.Invoke(component.Validator, [context, null]) is IValidator included)
                {
                    foreach (var inner in Rules(included))
                        yield return inner;
                }
            }
        }
    }

    private static string Number(object value) => Convert.ToString(value, CultureInfo.InvariantCulture)!;
}
