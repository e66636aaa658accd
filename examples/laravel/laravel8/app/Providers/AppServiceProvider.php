<?php

declare(strict_types=1);

namespace App\Providers;

use Illuminate\Http\Request;
use Illuminate\Support\ServiceProvider;
use Revocation\RevocationGuard;

class AppServiceProvider extends ServiceProvider
{
    public function register(): void
    {
        $this->app->singleton(RevocationGuard::class, fn () => new RevocationGuard(
            config('services.revocation.url'),
            config('services.revocation.guard'),
            config('services.revocation.app_id'),
            config('services.revocation.app_key'),
        ));
    }

    public function boot(): void
    {
        // routes/api.php in a full app.
        $this->app['router']->middleware('revocation')->any('/orders', fn (Request $request) => [
            'user_id' => $request->attributes->get('revocation_user_id'),
            'path' => $request->getRequestUri(),
            'body' => $request->getContent(),
        ]);
    }
}
