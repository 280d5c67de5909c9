package cn.bidkey.app

import android.os.Bundle
import androidx.activity.ComponentActivity
import androidx.activity.compose.setContent
import androidx.activity.viewModels
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.NavigationBar
import androidx.compose.material3.NavigationBarItem
import androidx.compose.material3.Scaffold
import androidx.compose.material3.Text
import androidx.compose.foundation.layout.padding
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

class MainActivity : ComponentActivity() {
    private val models: AppViewModels by viewModels {
        object : ViewModelProvider.Factory {
            @Suppress("UNCHECKED_CAST")
            override fun <T : ViewModel> create(modelClass: Class<T>): T =
                AppViewModels(application as BidkeyApplication) as T
        }
    }

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        val lang = (application as BidkeyApplication).language
        setContent {
            MaterialTheme {
                val l by lang.collectAsStateWithLifecycle()
                Root(models, Words(l))
            }
        }
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
    val tabs = listOf("certs" to w("证书", "Certificates"), "scan" to w("扫一扫", "Scan"), "enterprise" to w("企业", "Enterprise"), "settings" to w("我的", "Me"))
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
