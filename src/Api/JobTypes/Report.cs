using System.Globalization;
using System.Text;
using FluentValidation;

namespace EventSourced.Api.JobTypes;

public sealed record ReportInput(string ReportType, int? Year);

public sealed class ReportInputValidator : AbstractValidator<ReportInput>
{
    public static readonly string[] ReportTypes = ["annual", "quarterly"];

    public ReportInputValidator()
    {
        RuleFor(i => i.ReportType).NotEmpty().Must(ReportTypes.Contains)
            .WithMessage($"'reportType' must be one of: {string.Join(", ", ReportTypes)}.");
        RuleFor(i => i.Year).NotNull().InclusiveBetween(2000, 2100);
    }
}

/// <summary>An example handler: builds a CSV of orders and revenue per period, which GET /jobs/{id}/result returns.</summary>
public sealed class ReportJob : IJobHandler<ReportInput>
{
    public string Type => "report";
    public string SubmitRoute => "/reports";

    public async Task<JobOutput> Run(ReportInput input, JobContext context, CancellationToken ct)
    {
        var year = input.Year!.Value;
        var periods = input.ReportType == "annual"
            ? Enumerable.Range(1, 12).Select(m => $"{year}-{m:00}").ToArray()
            : Enumerable.Range(1, 4).Select(q => $"{year}-Q{q}").ToArray();

        var csv = new StringBuilder("period,orders,revenue\n");
        for (var i = 0; i < periods.Length; i++)
        {
            await Task.Delay(50, ct);
            // Made-up figures, the same for the same period every time.
            var orders = 1000 + (year * 31 + i * 17) % 500;
            csv.Append(CultureInfo.InvariantCulture, $"{periods[i]},{orders},{orders * 42.5m:F2}\n");
            await context.ReportProgress((i + 1) * 100 / periods.Length, $"Period {periods[i]}", ct);
        }
        return JobOutput.Text(csv.ToString(), "text/csv");
    }
}
