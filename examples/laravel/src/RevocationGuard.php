<?php

declare(strict_types=1);

namespace Revocation;

/**
 * The framework-free core of a middleware: is this request's bearer token still good? Asks
 * the service on every request (never cached: a cached "yes" would let a revoked token in),
 * through the gateway's verify route or through OAuth introspection (RFC 7662).
 */
final class RevocationGuard
{
    public const VERIFY = 'verify';
    public const INTROSPECT = 'introspect';

    public function __construct(
        private readonly string $url,
        private readonly string $mode = self::VERIFY,
        private readonly string $appId = '',
        private readonly string $appKey = '',
    ) {
    }

    /**
     * The live token's user id (a string of digits) and jti; throws TokenRefused (answer 401)
     * or ServiceUnavailable (answer 503: the service could not decide, so nothing passes).
     */
    public function check(?string $authorization): array
    {
        if ($authorization === null || $authorization === '') {
            throw new TokenRefused('no bearer token');
        }
        return $this->mode === self::INTROSPECT
            ? $this->introspect($authorization)
            : $this->verify($authorization);
    }

    private function verify(string $authorization): array
    {
        [$status, , , $headers] = Http::get(
            $this->url . '/api/v2/auth/verify',
            ['Authorization: ' . $authorization],
        );
        self::refuseUnless($status, 200);
        return ['user_id' => $headers['x-user-id'], 'jti' => $headers['x-token-jti']];
    }

    private function introspect(string $authorization): array
    {
        if (!preg_match('/^Bearer\s+(\S+)$/i', $authorization, $match)) {
            throw new TokenRefused('not a bearer token');
        }
        [$status, $answer] = Http::postForm(
            $this->url . '/oauth/introspect',
            ['token' => $match[1]],
            $this->appId,
            $this->appKey,
        );
        self::refuseUnless($status, 200);
        if (($answer['active'] ?? false) !== true) {
            throw new TokenRefused('token is not active');
        }
        return ['user_id' => $answer['sub'], 'jti' => $answer['jti']];
    }

    private static function refuseUnless(int $status, int $expected): void
    {
        if ($status === 401) {
            throw new TokenRefused('the service refused the token');
        }
        if ($status !== $expected) {
            throw new ServiceUnavailable("the service answered {$status}");
        }
    }
}
