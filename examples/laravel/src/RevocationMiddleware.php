<?php

declare(strict_types=1);

namespace Revocation;

/**
 * A framework-free middleware: the request goes on (with the verified user id) only if the
 * service says its token is live; otherwise it is answered here, 401 or 503, in the service's
 * own shapes. Laravel's wiring of the same guard is Laravel\CheckRevocation.
 */
final class RevocationMiddleware
{
    public function __construct(private readonly RevocationGuard $guard)
    {
    }

    /** @param callable(array{user_id: string, jti: string}): void $next */
    public function handle(?string $authorization, callable $next): void
    {
        try {
            $identity = $this->guard->check($authorization);
        } catch (TokenRefused) {
            self::answer(401, 'Unauthorized', ['WWW-Authenticate: Bearer']);
            return;
        } catch (ServiceUnavailable) {
            self::answer(503, 'Service Unavailable');
            return;
        }
        $next($identity);
    }

    private static function answer(int $status, string $title, array $headers = []): void
    {
        http_response_code($status);
        foreach (['Content-Type: application/json', ...$headers] as $header) {
            header($header);
        }
        echo json_encode(['title' => $title]);
    }
}
