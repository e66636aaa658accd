<?php

declare(strict_types=1);

// A minimal Laravel 8 app (Debian's php-laravel-framework, no Composer) whose routes sit
// behind CheckRevocation: Laravel's own kernel, router and middleware pipeline run it.
// php -S 127.0.0.1:8080 public/index.php

require 'Illuminate/autoload.php';  // Debian's, on PHP's include_path
require __DIR__ . '/../../src/autoload.php';
spl_autoload_register(function (string $class): void {
    if (str_starts_with($class, 'App\\')) {
        require __DIR__ . '/../app/' . str_replace('\\', '/', substr($class, 4)) . '.php';
    }
});

$app = require __DIR__ . '/../bootstrap/app.php';
$kernel = $app->make(Illuminate\Contracts\Http\Kernel::class);
$response = $kernel->handle($request = Illuminate\Http\Request::capture());
$response->send();
$kernel->terminate($request, $response);
