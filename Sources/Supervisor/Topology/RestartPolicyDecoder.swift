/// Decodes a service's "restart" object; every key is optional.
enum RestartPolicyDecoder {
    static let keys = ["policy", "max_retries", "backoff", "max_backoff", "stable_after"]

    static let defaults = RestartPolicy(when: .always, maxRetries: 5, initialBackoffMs: 100, maxBackoffMs: 10_000,
                                        stableAfterMs: 30_000)

    static func decode(_ service: JSONObjectReader) throws(TopologyProblem) -> RestartPolicy {
        var policy = defaults
        guard let restart = try service.object("restart", allowedKeys: keys) else { return policy }
        if let when = try restart.choice("policy", ["always", "on-failure", "never"]) {
            policy.when = RestartPolicy.When(rawValue: when) ?? policy.when
        }
        policy.maxRetries = try restart.int("max_retries", in: 0...1_000_000) ?? policy.maxRetries
        policy.initialBackoffMs = try restart.duration("backoff", allowZero: true) ?? policy.initialBackoffMs
        policy.maxBackoffMs = try restart.duration("max_backoff", allowZero: true) ?? policy.maxBackoffMs
        policy.stableAfterMs = try restart.duration("stable_after") ?? policy.stableAfterMs
        guard policy.initialBackoffMs <= policy.maxBackoffMs else {
            let key = restart.has("backoff") ? "backoff" : "max_backoff"
            throw TopologyProblem(restart.path(key), "backoff \(DurationText.describe(milliseconds: policy.initialBackoffMs)) "
                + "is longer than max_backoff \(DurationText.describe(milliseconds: policy.maxBackoffMs))")
        }
        return policy
    }
}
