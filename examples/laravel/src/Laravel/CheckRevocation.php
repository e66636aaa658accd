<?php

declare(strict_types=1);

namespace Revocation\Laravel;

use Closure;
use Illuminate\Http\JsonResponse;
use Illuminate\Http\Request;
use Revocation\RevocationGuard;
use Revocation\ServiceUnavailable;
use Revocation\TokenRefused;
use Symfony\Component\HttpFoundation\Response;

/**
 * RevocationGuard as Laravel route middleware (wiring in docs/laravel.md): a request whose
 * token the service refuses gets 401, one the service cannot decide gets 503; a live one
 * goes on with the verified user id in `$request->attributes->get('revocation_user_id')`.
 */
final class CheckRevocation
{
    public function __construct(private readonly RevocationGuard $guard)
    {
    }

    public function handle(Request $request, Closure $next): Response
    {
        try {
            $identity = $this->guard->check($request->header('Authorization'));
        } catch (TokenRefused) {
            return new JsonResponse(['title' => 'Unauthorized'], 401, ['WWW-Authenticate' => 'Bearer']);
        } catch (ServiceUnavailable) {
            return new JsonResponse(['title' => 'Service Unavailable'], 503);
        }
        $request->attributes->set('revocation_user_id', $identity['user_id']);
        return $next($request);
    }
}
