package cn.bidkey.app

import android.content.Intent
import android.os.Bundle
import androidx.fragment.app.FragmentActivity
import androidx.activity.compose.setContent
import androidx.activity.viewModels
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.NavigationBar
import androidx.compose.material3.NavigationBarItem
import androidx.compose.material3.Scaffold
import androidx.compose.material3.Text
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.padding
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.ui.unit.dp
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.ui.Modifier
import androidx.lifecycle.ViewModel
import androidx.lifecycle.ViewModelProvider
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import androidx.navigation.compose.NavHost
import androidx.navigation.compose.composable
import androidx.navigation.compose.currentBackStackEntryAsState
import androidx.navigation.compose.rememberNavController
import cn.bidkey.app.ui.*
import cn.bidkey.shared.Startup

class MainActivity : FragmentActivity() {
    private val app get() = application as BidkeyApplication

    private val models: AppViewModels by viewModels {
        object : ViewModelProvider.Factory {
            @Suppress("UNCHECKED_CAST")
            override fun <T : ViewModel> create(modelClass: Class<T>): T =
                AppViewModels((app.startup as Startup.Ready).bidkey, app.language) as T
        }
    }

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        val lang = app.language
        when (val startup = app.startup) {
            // Never a crash: the reason, in the core's words when the core could load.
            is Startup.Failed -> setContent {
                MaterialTheme { StartupErrorScreen(startup, Words.of(this, lang.value)) }
            }
            is Startup.Ready -> {
                app.biometrics.attach(this)
                if (savedInstanceState == null) openLink(intent)
                setContent {
                    MaterialTheme {
                        val l by lang.collectAsStateWithLifecycle()
                        Root(models, Words.of(this, l))
                    }
                }
            }
        }
    }

    override fun onDestroy() {
        app.biometrics.detach(this)
        super.onDestroy()
    }

    /** launchMode singleTask: a link tapped while the app runs comes here. */
    override fun onNewIntent(intent: Intent) {
        super.onNewIntent(intent)
        if (app.startup is Startup.Ready) openLink(intent)
    }

    /** Same-device use: a bidkey://scan?… link (the intent filter in the manifest). */
    private fun openLink(intent: Intent?) {
        val link = intent?.takeIf { it.action == Intent.ACTION_VIEW }?.dataString ?: return
        models.scan.linked(link)
    }
}

/** The start-up failure: the core's sentence (or the shell's own when the core is missing). */
@Composable
fun StartupErrorScreen(failed: Startup.Failed, w: Words) {
    Column(Modifier.fillMaxSize().padding(24.dp), verticalArrangement = Arrangement.spacedBy(12.dp)) {
        Text(w(R.string.startup_title), style = MaterialTheme.typography.headlineSmall)
        Text(failed.message ?: w(R.string.startup_native_missing))
        Text(w(R.string.startup_detail), style = MaterialTheme.typography.labelMedium)
        Text(failed.detail, style = MaterialTheme.typography.bodySmall)
    }
}

/** The tabs of the app; login first when logged out. */
@Composable
fun Root(m: AppViewModels, w: Words) {
    val account by m.settings.account.collectAsStateWithLifecycle()
    if (account == null) {
        LoginScreen(m.login, w)
        return
    }
    val nav = rememberNavController()
    val current by nav.currentBackStackEntryAsState()
    // A request opened by a link (or a scan): its confirmation page lives on the scan tab.
    val request by m.scan.request.collectAsStateWithLifecycle()
    LaunchedEffect(request) {
        if (request != null && current?.destination?.route !in listOf("scan", "sessions")) nav.navigate("scan") { launchSingleTop = true }
    }
    val tabs = listOf("certs" to w(R.string.certificates), "scan" to w(R.string.scan), "enterprise" to w(R.string.enterprise), "settings" to w(R.string.me))
    Scaffold(bottomBar = {
        NavigationBar {
            tabs.forEach { (route, label) ->
                NavigationBarItem(
                    selected = current?.destination?.route == route,
                    onClick = { nav.navigate(route) { launchSingleTop = true } },
                    icon = {},
                    label = { Text(label) },
                )
            }
        }
    }) { padding ->
        NavHost(nav, startDestination = "certs", modifier = Modifier.padding(padding)) {
            composable("certs") { CertificatesScreen(m.certificates, w) }
            composable("scan") { ScanScreen(m.scan, w, onSessions = { nav.navigate("sessions") }) }
            composable("sessions") { SessionsScreen(m.scan, w) }
            composable("enterprise") { EnterpriseScreen(m.enterprise, w, onAdmin = { nav.navigate("admin/$it") }) }
            composable("admin/{id}") { entry -> AdminScreen(m.admin(entry.arguments?.getString("id") ?: ""), w) }
            composable("realname") { RealNameScreen(m.realName, w) }
            composable("settings") { SettingsScreen(m.settings, w, onRealName = { nav.navigate("realname") }) }
        }
    }
}
