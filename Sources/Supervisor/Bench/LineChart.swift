import Foundation

/// A line chart as standalone SVG (no scripts, no external fonts): axes with round-number ticks, a light
/// grid, one coloured line with dots per series, and a legend. Opens in any browser.
struct LineChart {
    struct Series {
        var name: String
        var points: [(x: Double, y: Double)]
    }

    var title: String
    var subtitle: String
    var xLabel: String
    var yLabel: String
    /// Where ticks go on x, with their labels (categorical axes give evenly spaced positions).
    var xTicks: [(Double, String)]
    var series: [Series]

    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"]

    func svg(width: Double = 860, height: Double = 500) -> String {
        let left = 80.0, right = 170.0, top = 64.0, bottom = 60.0
        let plotW = width - left - right, plotH = height - top - bottom
        let xs = xTicks.map(\.0) + series.flatMap { $0.points.map(\.x) }
        // A little room on both sides so the first and last points do not sit on the frame.
        let rawMin = xs.min() ?? 0, rawMax = max(xs.max() ?? 1, rawMin)
        let pad = rawMax > rawMin ? (rawMax - rawMin) * 0.04 : 0.5
        let xMin = rawMin - pad, xMax = rawMax + pad
        let yMaxRaw = series.flatMap { $0.points.map(\.y) }.max() ?? 1
        let (yMax, yStep) = Self.niceScale(max(yMaxRaw, 1e-9))
        func px(_ x: Double) -> Double { left + (xMax == xMin ? plotW / 2 : (x - xMin) / (xMax - xMin) * plotW) }
        func py(_ y: Double) -> Double { top + plotH - y / yMax * plotH }
        func fmt(_ v: Double) -> String { String(format: "%.1f", v) }

        var s = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="Helvetica, Arial, sans-serif" font-size="13">
        <title>\(Self.escape(title))</title>
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(fmt(left))" y="26" font-size="18" font-weight="bold">\(Self.escape(title))</text>
        <text x="\(fmt(left))" y="46" fill="#555">\(Self.escape(subtitle))</text>

        """
        // Grid and y ticks.
        var y = 0.0
        while y <= yMax + yStep / 2 {
            let yy = py(y)
            s += "<line x1=\"\(fmt(left))\" y1=\"\(fmt(yy))\" x2=\"\(fmt(left + plotW))\" y2=\"\(fmt(yy))\" stroke=\"#e5e5e5\"/>\n"
            s += "<text x=\"\(fmt(left - 8))\" y=\"\(fmt(yy + 4))\" text-anchor=\"end\" fill=\"#333\">\(Self.escape(Self.label(y)))</text>\n"
            y += yStep
        }
        // x ticks.
        for (x, label) in xTicks {
            let xx = px(x)
            s += "<line x1=\"\(fmt(xx))\" y1=\"\(fmt(top + plotH))\" x2=\"\(fmt(xx))\" y2=\"\(fmt(top + plotH + 5))\" stroke=\"#333\"/>\n"
            s += "<text x=\"\(fmt(xx))\" y=\"\(fmt(top + plotH + 20))\" text-anchor=\"middle\" fill=\"#333\">\(Self.escape(label))</text>\n"
        }
        // Axes and their labels.
        s += "<line x1=\"\(fmt(left))\" y1=\"\(fmt(top))\" x2=\"\(fmt(left))\" y2=\"\(fmt(top + plotH))\" stroke=\"#333\"/>\n"
        s += "<line x1=\"\(fmt(left))\" y1=\"\(fmt(top + plotH))\" x2=\"\(fmt(left + plotW))\" y2=\"\(fmt(top + plotH))\" stroke=\"#333\"/>\n"
        s += "<text x=\"\(fmt(left + plotW / 2))\" y=\"\(fmt(height - 14))\" text-anchor=\"middle\">\(Self.escape(xLabel))</text>\n"
        s += "<text transform=\"translate(18 \(fmt(top + plotH / 2))) rotate(-90)\" text-anchor=\"middle\">\(Self.escape(yLabel))</text>\n"
        // Series and legend.
        for (i, serie) in series.enumerated() {
            let color = Self.palette[i % Self.palette.count]
            let pts = serie.points.sorted { $0.x < $1.x }
            if pts.count > 1 {
                let path = pts.map { "\(fmt(px($0.x))),\(fmt(py($0.y)))" }.joined(separator: " ")
                s += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2.2\" points=\"\(path)\"/>\n"
            }
            for p in pts {
                s += "<circle cx=\"\(fmt(px(p.x)))\" cy=\"\(fmt(py(p.y)))\" r=\"3.5\" fill=\"\(color)\"><title>\(Self.escape(serie.name)): \(Self.escape(Self.label(p.y)))</title></circle>\n"
            }
            let ly = top + 10 + Double(i) * 22
            s += "<line x1=\"\(fmt(left + plotW + 18))\" y1=\"\(fmt(ly))\" x2=\"\(fmt(left + plotW + 44))\" y2=\"\(fmt(ly))\" stroke=\"\(color)\" stroke-width=\"3\"/>\n"
            s += "<text x=\"\(fmt(left + plotW + 50))\" y=\"\(fmt(ly + 4))\">\(Self.escape(serie.name))</text>\n"
        }
        return s + "</svg>\n"
    }

    /// A top value and step that land on round numbers (1, 2 or 5 times a power of ten).
    static func niceScale(_ maxValue: Double) -> (Double, Double) {
        let rough = maxValue / 5
        let magnitude = pow(10, floor(log10(rough)))
        let step = [1.0, 2.0, 5.0, 10.0].map { $0 * magnitude }.first { $0 >= rough } ?? 10 * magnitude
        return (ceil(maxValue / step) * step, step)
    }

    static func label(_ v: Double) -> String {
        if v >= 10_000 { return String(format: "%.0fk", v / 1000) }
        if v == v.rounded() { return String(format: "%.0f", v) }
        if v >= 100 { return String(format: "%.0f", v) }
        if v >= 10 { return String(format: "%.1f", v) }
        return String(format: "%.2f", v)
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}

/// The charts a bench run draws, per model and keep-alive setting.
enum BenchCharts {
    struct Chart {
        let name: String
        let svg: String
    }

    static func all(_ run: BenchRun) -> [Chart] {
        var charts: [Chart] = []
        let groups = Dictionary(grouping: run.rows) { "\($0.model)|\($0.keepAlive)" }
        for key in groups.keys.sorted() {
            let rows = groups[key]!
            let model = rows[0].model
            let ka = rows[0].keepAlive
            let tag = "\(model)-\(ka ? "keepalive" : "close")"
            let how = "\(model) model, keep-alive \(ka ? "on" : "off"), target \(rows[0].target), \(run.topology)"
            // Requests per second against backend count, a line per concurrency.
            let backends = Array(Set(rows.map(\.backends))).sorted()
            let concurrencies = Array(Set(rows.map(\.concurrency))).sorted()
            let rps = LineChart(
                title: "Requests per second by backend count", subtitle: how, xLabel: "backends", yLabel: "requests per second",
                xTicks: backends.map { (Double($0), String($0)) },
                series: concurrencies.map { c in
                    .init(name: "concurrency \(c)", points: rows.filter { $0.concurrency == c }.map { (Double($0.backends), $0.requestsPerSecond) })
                })
            charts.append(Chart(name: "rps-\(tag).svg", svg: rps.svg()))
            // Latency percentiles against concurrency, at the largest backend count (evenly spaced: concurrency is not linear).
            let most = backends.last ?? 1
            let atMost = rows.filter { $0.backends == most }.sorted { $0.concurrency < $1.concurrency }
            let position = Dictionary(uniqueKeysWithValues: concurrencies.enumerated().map { ($1, Double($0)) })
            func line(_ name: String, _ value: (BenchRow) -> Double) -> LineChart.Series {
                .init(name: name, points: atMost.map { (position[$0.concurrency] ?? 0, value($0)) })
            }
            let latency = LineChart(
                title: "Latency by concurrency (\(most) backend\(most == 1 ? "" : "s"))", subtitle: how,
                xLabel: "concurrent connections", yLabel: "milliseconds",
                xTicks: concurrencies.map { (position[$0] ?? 0, String($0)) },
                series: [line("p50", \.p50Ms), line("p90", \.p90Ms), line("p99", \.p99Ms), line("max", \.maxMs)])
            charts.append(Chart(name: "latency-\(tag).svg", svg: latency.svg()))
        }
        return charts
    }
}
