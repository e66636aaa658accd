<?php

declare(strict_types=1);

namespace Revocation;

use RuntimeException;

/**
 * The service-to-service calls (token issuance at login, logout everywhere), framework-free:
 * PHP's curl only. Both retry only when retrying can help: a connection failure or a 503 (the
 * service's database did not answer; nothing was decided). A 401 is never retried: its
 * title says which input was wrong. The Laravel version in docs/laravel.md behaves the same.
 */
final class RevocationClient
{
    private const ATTEMPTS = 3;
    private const BACKOFF_MS = 200;

    public function __construct(
        private readonly string $url,
        private readonly string $appId,
        private readonly string $appKey,
    ) {
    }

    /** ['token' => ..., 'token_type' => 'Bearer', 'expires_at' => ..., 'jti' => ...] */
    public function issueToken(int|string $userId, ?string $device = null): array
    {
        return $this->post('/api/v2/internal/tokens', ['user_id' => $userId, 'device' => $device]);
    }

    /** Every token of the user is refused from the moment this returns. */
    public function logoutEverywhere(int|string $userId): void
    {
        $this->post('/api/v2/lgt-all', ['user_id' => $userId]);
    }

    private function post(string $path, array $body): array
    {
        $body += ['app_id' => $this->appId, 'app_key' => $this->appKey];
        for ($attempt = 1; ; $attempt++) {
            [$status, $answer, $retryAfter] = Http::postJson($this->url . $path, $body);
            $retryable = $status === 0 || $status === 503;  // 0: no HTTP answer at all
            if (!$retryable || $attempt === self::ATTEMPTS) {
                break;
            }
            usleep(self::BACKOFF_MS * 1000);
        }
        if ($status === 200) {
            return $answer;
        }
        // Never log the request body: it carries the app key.
        throw new RuntimeException(match ($answer['title'] ?? null) {
            'Kindly Provide User ID' => 'revocation: user_id must be an integer from 1 to 2^63-1',
            'Kindly Provide APP ID and APP KEY' => 'revocation: the app id and key are not set',
            'Kindly Provide Valid APP ID and APP KEY' => $retryAfter !== null
                ? "revocation: too many failed calls from this host, retry after {$retryAfter} s"
                : 'revocation: the app id and key do not match the service',
            default => "revocation: HTTP {$status}",
        });
    }
}
